//! The token that every request must carry when one is set: as
//! `Authorization: Bearer TOKEN`, or as the cookie that opening a
//! `?token=TOKEN` link sets (then the link redirects to itself without the
//! token, so it leaves the address bar and the history). Compared in constant
//! time: both sides are hashed to the same length first, then compared with
//! `subtle`, so neither the content nor the length of the token leaks.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gocart_shared::marker::sha256_hex;
use subtle::ConstantTimeEq;

use super::{pages, Site};

/// The cookie's name.
pub const COOKIE: &str = "gocart_token";

pub struct Token {
    digest: String,
}

impl Token {
    pub fn new(token: &str) -> Token {
        Token {
            digest: sha256_hex(token.as_bytes()),
        }
    }

    pub fn matches(&self, offered: &str) -> bool {
        let offered = sha256_hex(offered.as_bytes());
        bool::from(self.digest.as_bytes().ct_eq(offered.as_bytes()))
    }
}

/// The middleware in front of every route.
pub async fn require_token(
    State(site): State<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &site.token else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_string();
    if let Some(offered) = query_token(&request) {
        if !token.matches(&offered) {
            tracing::warn!("refused {path}: wrong token in the link");
            return unauthorized();
        }
        // Never `//host`: a redirect there would leave the site.
        let location = if path.starts_with("//") { "/" } else { &path };
        let cookie = format!("{COOKIE}={offered}; HttpOnly; SameSite=Strict; Path=/");
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location.to_string()),
                (header::SET_COOKIE, cookie),
            ],
        )
            .into_response();
    }
    let headers = request.headers();
    match bearer(headers).or_else(|| cookie(headers)) {
        Some(offered) if token.matches(offered) => next.run(request).await,
        Some(_) => {
            tracing::warn!("refused {path}: wrong token");
            unauthorized()
        }
        None => {
            tracing::warn!("refused {path}: no token");
            unauthorized()
        }
    }
}

fn query_token(request: &Request) -> Option<String> {
    let Query(query) = Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok()?;
    query.get("token").cloned()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::response::Html(pages::needs_token().into_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches() {
        let token = Token::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret "));
        assert!(!token.matches(""));
    }

    #[test]
    fn the_token_is_found_in_the_header_or_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            "a=1; gocart_token=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers), Some("xyz"));
        headers.insert(header::COOKIE, "gocart_tokenx=1".parse().unwrap());
        assert_eq!(cookie(&headers), None);
    }
}
