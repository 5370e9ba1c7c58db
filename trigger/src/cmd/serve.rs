//! `gocart-trigger serve`: checks the command line against the safety rules
//! (a token for any address but loopback, a token a cookie can carry) before
//! anything listens, then hands over to `crate::serve`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use gocart_shared::cli::UsageError;
use gocart_shared::Settings;

use crate::cli::ServeArgs;
use crate::serve::{self, Config, Limits};

pub fn run(
    settings: &Settings,
    settings_path: &Path,
    args: &ServeArgs,
) -> anyhow::Result<ExitCode> {
    let token = checked_token(args)?;
    let download_dir = &settings.lvk.download_dir;
    let tree_root = download_dir.canonicalize().with_context(|| {
        format!(
            "the alert tree {} (lvk.download_dir) cannot be read; start `gocart-trigger watch` or `gocart-ingest` first",
            download_dir.display()
        )
    })?;
    serve::run(Config {
        addr: args.addr,
        token,
        tree_root,
        state_dir: settings.trigger.state_dir.clone(),
        settings_path: settings_path.to_path_buf(),
        public_names: args.public_names.clone(),
        limits: Limits {
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            header_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
        },
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The token, refused when it is needed and missing, or cannot be a cookie.
fn checked_token(args: &ServeArgs) -> Result<Option<String>, UsageError> {
    let token = args.token.clone().filter(|t| !t.is_empty());
    match &token {
        None if !args.addr.ip().is_loopback() => Err(UsageError(format!(
            "serving on {} (not a loopback address) needs --token (or GOCART_SERVE_TOKEN): \
             anyone who can reach it could read the tree",
            args.addr
        ))),
        Some(t)
            if !t
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\";,\\".contains(&b)) =>
        {
            Err(UsageError(
                "the token must be printable ASCII without spaces, quotes, ';', ',' or '\\' \
                 (it travels in a cookie)"
                    .into(),
            ))
        }
        _ => Ok(token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(addr: &str, token: Option<&str>) -> ServeArgs {
        ServeArgs {
            addr: addr.parse().unwrap(),
            token: token.map(String::from),
            public_names: Vec::new(),
            max_connections: 256,
            header_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
        }
    }

    #[test]
    fn only_loopback_goes_without_a_token() {
        assert!(checked_token(&args("127.0.0.1:8620", None))
            .unwrap()
            .is_none());
        assert!(checked_token(&args("[::1]:8620", None)).is_ok());
        let refused = checked_token(&args("0.0.0.0:8620", None)).unwrap_err();
        assert!(refused.0.contains("needs --token"), "{refused}");
        assert!(checked_token(&args("0.0.0.0:8620", Some(""))).is_err());
        assert_eq!(
            checked_token(&args("0.0.0.0:8620", Some("s3cret-T0ken")))
                .unwrap()
                .as_deref(),
            Some("s3cret-T0ken")
        );
        assert!(checked_token(&args("127.0.0.1:1", Some("a b"))).is_err());
        assert!(checked_token(&args("127.0.0.1:1", Some("a;b"))).is_err());
    }
}
