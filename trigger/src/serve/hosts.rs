//! The `Host` check in front of every route, token or not: a page on another
//! website can point its own name at 127.0.0.1 (DNS rebinding) and then read
//! whatever answers there as if it were its own. It cannot make the browser
//! send our name as `Host`, so only requests naming this server are
//! answered: the bound address, `localhost`, `127.0.0.1`, `[::1]` (any port:
//! a proxy on the same machine may forward them) and each `--public-name`;
//! anything else is 421 Misdirected Request.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Site;

/// The names this server answers to.
pub struct Hosts {
    /// `ip:port` as bound (`[v6]:port` for IPv6).
    bound: String,
    /// Lower-case names without a port, accepted with any port or none.
    names: Vec<String>,
    /// Lower-case `name:port` given with their port: accepted only so.
    with_port: Vec<String>,
    /// Hosts already warned about (a few: a rebinding page may try many).
    warned: Mutex<HashSet<String>>,
}

/// How many different refused hosts are named in the log.
const WARN_HOSTS: usize = 16;

impl Hosts {
    pub fn new(bound: SocketAddr, public_names: &[String]) -> Hosts {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|n| (*n).to_string())
            .collect();
        let mut with_port = Vec::new();
        for name in public_names {
            let name = name.trim().to_ascii_lowercase();
            match split_port(&name) {
                (_, Some(_)) => with_port.push(name),
                (bare, None) => names.push(bare.to_string()),
            }
        }
        Hosts {
            bound: bound.to_string().to_ascii_lowercase(),
            names,
            with_port,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Whether a `Host` header (or a request's authority) names this server.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        if host == self.bound || self.with_port.contains(&host) {
            return true;
        }
        let (name, port) = split_port(&host);
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
        port_ok && self.names.iter().any(|n| *n == name)
    }

    fn warn_once(&self, host: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.len() < WARN_HOSTS && warned.insert(host.to_string()) {
            tracing::warn!(
                "refused a request for host {host:?} (421): not this server's name; \
                 if it is, start serve with --public-name"
            );
        }
    }
}

/// `name` and the port after it, if any (`[v6]:port` understood).
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => {
                let (name, rest) = host.split_at(end + 1);
                match rest.strip_prefix(':') {
                    Some(port) => (name, Some(port)),
                    None if rest.is_empty() => (name, None),
                    // `[::1]x`: matches no name.
                    None => (host, None),
                }
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

/// The middleware in front of every route (and of the token check).
pub async fn require_known_host(
    State(site): State<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    // An absolute URL in the request line must name us too.
    let authority = request.uri().authority().map(|a| a.as_str().to_string());
    let named: Vec<&String> = host.iter().chain(authority.iter()).collect();
    if !named.is_empty() && named.iter().all(|h| site.hosts.allows(h)) {
        return next.run(request).await;
    }
    let refused = named.first().map_or("(none)", |h| h.as_str());
    site.hosts.warn_once(refused);
    misdirected()
}

fn misdirected() -> Response {
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "421 Misdirected Request: this gocart server answers only to its own address, \
         localhost, 127.0.0.1, [::1] and the names given with --public-name.\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_names_are_allowed() {
        let hosts = Hosts::new(
            "127.0.0.1:8620".parse().unwrap(),
            &["Gocart.Example.org".into(), "10.0.0.5:443".into()],
        );
        for good in [
            "127.0.0.1:8620",
            "127.0.0.1",
            "localhost",
            "LOCALHOST:8620",
            "localhost:80",
            "[::1]",
            "[::1]:8620",
            "gocart.example.org",
            "gocart.example.org:8443",
            "10.0.0.5:443",
        ] {
            assert!(hosts.allows(good), "{good}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8620",
            "localhost.attacker.example",
            "localhost:x",
            "localhost:99999",
            "127.0.0.1.nip.io",
            "[::1]x",
            "::1",
            "10.0.0.5",
            "10.0.0.5:444",
            "",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
        let v6 = Hosts::new("[::1]:9000".parse().unwrap(), &[]);
        assert!(v6.allows("[::1]:9000"));
        let any = Hosts::new("0.0.0.0:8620".parse().unwrap(), &[]);
        assert!(!any.allows("192.168.1.5:8620"));
    }
}
