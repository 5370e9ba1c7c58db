//! `gocart-trigger serve` tested with real parts: a tree written by the real
//! `gocart-ingest mock` and `import`, a record written by a real `replay`, the
//! server started on a free port, HTTP over a plain socket (so that `..` and
//! odd encodings reach the server exactly as sent), and a real headless
//! Chromium for the screenshots and the live update.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gocart_shared::marker::sha256_hex;

use gocart_tests::http::{request, Reply};
use gocart_tests::process::terminate;
use gocart_tests::unique;

const TRIGGER: &str = env!("CARGO_BIN_EXE_gocart-trigger");

/// What the page of every plugin run shows: it must come out escaped.
const HOSTILE_OUTPUT: &str = "<script>alert('gocart')</script>";

/// A tree with mock and imported alerts, a plugin that ran on each, a settings file.
struct Site {
    tmp: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
    settings: PathBuf,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let site = Site {
            root: base.join("lvk_events"),
            state: base.join("state"),
            settings: base.join("gocart.yaml"),
            tmp,
        };
        let plugins = base.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let plugin = plugins.join("gp_echo.sh");
        std::fs::write(
            &plugin,
            format!("#!/bin/sh\necho \"{HOSTILE_OUTPUT} on $1\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let yaml = format!(
            "lvk:\n  parse_mock_events: true\n  parse_real_events: true\n  download_dir: {}\n\
             trigger:\n  plugins_dir: {}\n  state_dir: {}\n",
            site.root.display(),
            plugins.display(),
            site.state.display()
        );
        std::fs::write(&site.settings, yaml).unwrap();
        site.ingest(&["mock", "--count", "3", "--seed", "7"]);
        if let Some(files) = gocart_tests::shared_alert_files("serve") {
            let initial = files
                .iter()
                .find(|f| f.ends_with("MS181101ab-initial.json"))
                .expect("the user guide's sample alert");
            site.ingest(&["import", &initial.to_string_lossy()]);
        }
        let replay = site.trigger(&["replay"]);
        assert!(replay.status.success(), "{replay:?}");
        site
    }

    fn ingest(&self, args: &[&str]) {
        let out = gocart_tests::with_settings(&gocart_tests::binaries().ingest, &self.settings)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gocart-ingest {args:?}: {out:?}");
    }

    fn trigger(&self, args: &[&str]) -> std::process::Output {
        gocart_tests::with_settings(TRIGGER, &self.settings)
            .args(args)
            .output()
            .unwrap()
    }

    /// Every complete alert directory, relative to the tree.
    fn alert_dirs(&self) -> Vec<String> {
        gocart_tests::alert_dirs(&self.root)
            .iter()
            .map(|d| rel(&self.root, d))
            .collect()
    }

    fn serve(&self, extra: &[&str]) -> Server {
        self.serve_with_env(extra, &[])
    }

    fn serve_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let log = self.tmp.path().join(format!("serve-{}.log", unique()));
        let mut child = gocart_tests::with_settings(TRIGGER, &self.settings)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("serving http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no `serving` line: {line:?}"))
            .to_string();
        Server {
            child: Some(child),
            addr,
            log,
        }
    }
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

struct Server {
    child: Option<Child>,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.addr, method, path, headers)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then whether it exited 0 within 10 s.
    fn stop(mut self) -> bool {
        let mut child = self.child.take().unwrap();
        if let Some(status) = terminate(&mut child, Duration::from_secs(10)) {
            return status.success();
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn every_page_answers_with_its_content() {
    let site = Site::new();
    let server = site.serve(&[]);
    let dirs = site.alert_dirs();
    assert!(dirs.len() >= 3, "{dirs:?}");

    let list = server.get("/");
    assert_eq!(list.status, 200);
    assert!(list
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let html = list.text();
    for dir in &dirs {
        assert!(
            html.contains(&format!("href=\"/alerts/{dir}\"")),
            "{dir} not listed"
        );
        assert!(
            html.contains(&format!("src=\"/thumbs/{dir}\"")),
            "{dir} has no thumbnail"
        );
    }
    for wanted in [
        "1 per ",
        "significant",
        "ok echo",
        "Terrestrial",
        "/static/live.js",
    ] {
        assert!(html.contains(wanted), "{wanted:?} missing from the list");
    }
    // Newest first: the rows follow time_created, descending.
    let created: Vec<&str> = html
        .match_indices("<time datetime=\"")
        .map(|(i, _)| &html[i + 16..i + 36])
        .collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted);

    let dir = &dirs[0];
    let alert = server.get(&format!("/alerts/{dir}"));
    assert_eq!(alert.status, 200);
    let html = alert.text();
    for wanted in [
        "EXTRA",
        "area90",
        "central coordinate",
        "skymap.png",
        "meta.yaml",
        "gp_echo.sh",
        "exit 0",
        "duration",
    ] {
        assert!(
            html.contains(wanted),
            "{wanted:?} missing from the alert page"
        );
    }
    let event_rel = dir.rsplit_once('/').unwrap().0;
    let event = server.get(&format!("/events/{event_rel}"));
    assert_eq!(event.status, 200);
    assert!(event.text().contains(dir.rsplit('/').next().unwrap()));

    let status = server.get("/status");
    assert_eq!(status.status, 200);
    let html = status.text();
    assert!(html.contains("gocart-ingest") && html.contains("gocart-trigger"));
    assert!(html.contains("runs ok"), "{html}");
    assert!(html.contains("never run here"), "the ingest side: {html}");

    let meta = server.get(&format!("/files/{dir}/meta.yaml"));
    assert_eq!(meta.status, 200);
    assert_eq!(
        meta.body,
        std::fs::read(site.root.join(dir).join("meta.yaml")).unwrap()
    );
    let picture = server.get(&format!("/files/{dir}/skymap.png"));
    assert_eq!(picture.header("content-type"), Some("image/png"));
    let thumb = server.get(&format!("/thumbs/{dir}"));
    assert_eq!(thumb.status, 200);
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!(small.width(), 240);
    // Made once, kept in the state dir, never in the tree.
    assert_eq!(
        std::fs::read_dir(site.state.join("thumbs"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(server.get(&format!("/thumbs/{dir}")).body, thumb.body);

    assert_eq!(server.get("/static/style.css").status, 200);
    assert!(server.get("/static/live.js").text().contains("EventSource"));
    assert!(list
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(server.get("/nothing-here").status, 404);
    assert_eq!(server.get(&format!("/alerts/{event_rel}")).status, 404);
    // Read-only: no method but GET (and HEAD).
    assert_eq!(server.request("POST", "/", &[]).status, 405);
    assert_eq!(
        server
            .request("DELETE", &format!("/files/{dir}/meta.yaml"), &[])
            .status,
        405
    );
    assert!(server.stop(), "serve did not stop cleanly on SIGTERM");
}

#[test]
fn plugin_output_is_shown_escaped() {
    let site = Site::new();
    let server = site.serve(&[]);
    let dir = &site.alert_dirs()[0];
    let html = server.get(&format!("/alerts/{dir}")).text();
    assert!(
        html.contains("&lt;script&gt;alert(&#39;gocart&#39;)&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert('gocart')&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains(HOSTILE_OUTPUT), "{html}");
}

#[test]
fn a_token_is_checked_on_every_request() {
    let site = Site::new();
    let token = "s3cret-T0ken-for-tests";
    let server = site.serve(&["--token", token]);
    assert_eq!(server.get("/").status, 401);
    assert_eq!(server.get("/static/style.css").status, 401);
    let wrong = server.request("GET", "/", &[("Authorization", "Bearer wrong")]);
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {token}");
    let right = server.request("GET", "/", &[("Authorization", &bearer)]);
    assert_eq!(right.status, 200);
    assert!(right.text().contains("Alerts"));

    // A `?token=` link sets the cookie and sends the browser on without it.
    assert_eq!(server.get("/status?token=nope").status, 401);
    let link = server.get(&format!("/status?token={token}"));
    assert_eq!(link.status, 303);
    assert_eq!(link.header("location"), Some("/status"));
    let cookie = link.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        server.request("GET", "/status", &[("Cookie", pair)]).status,
        200
    );
    let wrong_cookie = server.request("GET", "/", &[("Cookie", "gocart_token=other")]);
    assert_eq!(wrong_cookie.status, 401);
    assert!(server.log().contains("WARN"), "{}", server.log());

    // Read from the environment too, so that it is not in `ps`.
    let from_env = site.serve_with_env(&[], &[("GOCART_SERVE_TOKEN", token)]);
    assert_eq!(from_env.get("/").status, 401);
    assert_eq!(
        from_env
            .request("GET", "/", &[("Authorization", &bearer)])
            .status,
        200
    );
}

#[test]
fn any_address_but_loopback_needs_a_token() {
    let site = Site::new();
    let out = site.trigger(&["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs --token"), "{stderr}");
}

#[test]
fn nothing_outside_the_tree_is_served() {
    let site = Site::new();
    let outside = site.tmp.path().join("secret.txt");
    std::fs::write(&outside, "not for the web").unwrap();
    let dir = site.alert_dirs()[0].clone();
    std::os::unix::fs::symlink(&outside, site.root.join(&dir).join("link.txt")).unwrap();
    let event_rel = dir.rsplit_once('/').unwrap().0.to_string();
    std::os::unix::fs::symlink(site.tmp.path(), site.root.join(&event_rel).join("escape")).unwrap();
    let server = site.serve(&[]);
    let attempts = [
        "/files/../gocart.yaml".to_string(),
        "/files/../../../../etc/passwd".into(),
        format!("/files/{dir}/../../../../gocart.yaml"),
        format!("/files/{dir}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/gocart.yaml"),
        format!("/files/{dir}/..%2f..%2f..%2f..%2fgocart.yaml"),
        "/files/%2e%2e%2fgocart.yaml".into(),
        format!("/files/{dir}/%2Fetc%2Fpasswd"),
        "/files//etc/passwd".into(),
        format!("/files/{}", outside.display()),
        format!("/files/{dir}/link.txt"),
        format!("/files/{dir}/.gocart-complete"),
        format!("/files/{event_rel}/escape/secret.txt"),
        format!("/files/{dir}/meta.yaml%00"),
        "/files/.staging/x".into(),
        "/alerts/../..".into(),
        format!("/events/{event_rel}/escape"),
        format!("/thumbs/{event_rel}/escape"),
        "/..%2f..%2fetc/passwd".into(),
    ];
    for path in &attempts {
        let reply = server.get(path);
        assert_eq!(reply.status, 404, "{path} answered {}", reply.status);
        assert!(!reply.text().contains("not for the web"), "{path}");
    }
    let log = server.log();
    assert!(
        log.contains("WARN") && log.contains("refused /files/../gocart.yaml"),
        "{log}"
    );
    // A plain file of the same directory still is served.
    assert_eq!(server.get(&format!("/files/{dir}/meta.yaml")).status, 200);
}

/// Every file under `dir` (thumbnails and SQLite's lock files aside): size,
/// mtime and content hash.
fn snapshot(dir: &Path, into: &mut BTreeMap<PathBuf, (u64, i64, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // The read-only connection uses SQLite's WAL index (-shm, -wal) as
        // every reader does; the database file itself must not change.
        if name == "thumbs" || name.ends_with("-shm") || name.ends_with("-wal") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            snapshot(&path, into);
            into.insert(
                path,
                (
                    0,
                    meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    String::new(),
                ),
            );
        } else {
            let sha = if meta.is_file() {
                sha256_hex(&std::fs::read(&path).unwrap())
            } else {
                String::new()
            };
            into.insert(
                path,
                (
                    meta.len(),
                    meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                    sha,
                ),
            );
        }
    }
}

#[test]
fn a_crawl_changes_nothing_in_the_tree_or_the_record() {
    let site = Site::new();
    let mut before = BTreeMap::new();
    snapshot(&site.root, &mut before);
    snapshot(&site.state, &mut before);
    let server = site.serve(&[]);
    let mut pages = vec!["/".to_string(), "/status".into()];
    for dir in site.alert_dirs() {
        pages.push(format!("/alerts/{dir}"));
        pages.push(format!("/events/{}", dir.rsplit_once('/').unwrap().0));
        pages.push(format!("/thumbs/{dir}"));
        for file in std::fs::read_dir(site.root.join(&dir)).unwrap().flatten() {
            pages.push(format!(
                "/files/{dir}/{}",
                file.file_name().to_string_lossy()
            ));
        }
    }
    for page in &pages {
        let status = server.get(page).status;
        assert!(status == 200 || status == 404, "{page}: {status}");
    }
    let mut after = BTreeMap::new();
    snapshot(&site.root, &mut after);
    snapshot(&site.state, &mut after);
    assert_eq!(before, after);
}

/// Reads server-sent events until `until` matches one, or the deadline.
fn read_events(reader: &mut BufReader<TcpStream>, until: impl Fn(&str, &str) -> bool) -> bool {
    let mut event = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if until(&event, data) {
                return true;
            }
        }
    }
}

fn open_live(addr: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /live HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    BufReader::new(stream)
}

/// How long ago the directory became complete: its marker's mtime (the
/// ingester writes the marker last, then renames the directory into place).
fn since_complete(dir: &Path) -> Duration {
    let written = std::fs::metadata(dir.join(".gocart-complete"))
        .and_then(|m| m.modified())
        .unwrap();
    std::time::SystemTime::now()
        .duration_since(written)
        .unwrap_or_default()
}

#[test]
fn a_completed_directory_is_announced_within_two_seconds() {
    let site = Site::new();
    let server = site.serve(&[]);
    let mut live = open_live(&server.addr);
    assert!(
        read_events(&mut live, |event, _| event == "hello"),
        "no hello"
    );
    let known = site.alert_dirs();
    site.ingest(&["mock", "--count", "1", "--seed", "4242"]);
    let new: Vec<String> = site
        .alert_dirs()
        .into_iter()
        .filter(|d| !known.contains(d))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let seen = read_events(&mut live, |event, data| {
        event == "alert" && data.contains(&format!("\"dir\":\"{}\"", new[0]))
    });
    let took = since_complete(&site.root.join(&new[0]));
    assert!(
        seen,
        "the new directory was not announced:\n{}",
        server.log()
    );
    assert!(took < Duration::from_secs(2), "announced after {took:?}");
    // And a page loaded now lists it.
    assert!(server.get("/").text().contains(&new[0]));
    // A stop ends the stream, so the server stops at once.
    assert!(server.stop());
}

/// Debian's chromium, or `None` (with a note) when it is not installed; on
/// CI (CI=true) a missing browser is a failure.
fn chromium(test: &str) -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| which_on_path(name));
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{test}: chromium is not installed and CI=true (scripts/setup.sh installs it)"
        );
        eprintln!("{test}: skipped: chromium is not installed (scripts/setup.sh installs it)");
    }
    found
}

fn which_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A headless screenshot of `url` at 1280x900, decoded.
fn screenshot(browser: &Path, url: &str, into: &Path) -> image::RgbaImage {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", into.display()))
        .args(["--window-size=1280,900", url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(into.is_file(), "no screenshot of {url}: {out:?}");
    image::open(into).unwrap().to_rgba8()
}

/// The share of pixels that differ from the most common (background) colour,
/// and the number of distinct colours.
fn content_of(picture: &image::RgbaImage) -> (f64, usize) {
    let mut counts: std::collections::HashMap<[u8; 4], usize> = std::collections::HashMap::new();
    for pixel in picture.pixels() {
        *counts.entry(pixel.0).or_default() += 1;
    }
    let background = counts.values().max().copied().unwrap_or(0);
    let total = (picture.width() * picture.height()) as f64;
    ((total - background as f64) / total, counts.len())
}

#[test]
#[ignore = "needs chromium: scripts/test.sh runs it (scripts/setup.sh installs chromium)"]
fn a_real_browser_shows_the_list_and_an_alert() {
    let Some(browser) = chromium("a_real_browser_shows_the_list_and_an_alert") else {
        return;
    };
    let site = Site::new();
    let server = site.serve(&[]);
    let shots = site.tmp.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let dir = &site.alert_dirs()[0];
    for (name, path) in [
        ("list", "/".to_string()),
        ("alert", format!("/alerts/{dir}")),
    ] {
        let url = format!("http://{}{path}", server.addr);
        let picture = screenshot(&browser, &url, &shots.join(format!("{name}.png")));
        assert_eq!((picture.width(), picture.height()), (1280, 900), "{name}");
        let (ink, colours) = content_of(&picture);
        // Text, badges and sky maps: far from a blank or an error page.
        assert!(
            ink > 0.03,
            "{name}: only {:.1}% of the page is not background",
            ink * 100.0
        );
        assert!(colours > 200, "{name}: only {colours} colours");
    }
}

/// Chrome's DevTools protocol over `--remote-debugging-pipe` (fd 3 in, fd 4
/// out, messages ended by NUL): no websocket needed.
struct DevTools {
    child: Child,
    to_browser: std::fs::File,
    from_browser: BufReader<std::fs::File>,
    next_id: u64,
}

impl DevTools {
    fn start(browser: &Path) -> DevTools {
        use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let pipe = || {
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
        };
        let (browser_reads, we_write) = pipe();
        let (we_read, browser_writes) = pipe();
        let (r, w) = (browser_reads.into_raw_fd(), browser_writes.into_raw_fd());
        let mut command = Command::new(browser);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
            ])
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only dup2 between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        unsafe {
            libc::close(r);
            libc::close(w);
        }
        DevTools {
            child,
            to_browser: std::fs::File::from(we_write),
            from_browser: BufReader::new(std::fs::File::from(we_read)),
            next_id: 0,
        }
    }

    /// Sends a command and returns its result.
    fn call(
        &mut self,
        method: &str,
        params: serde_json::Value,
        session: Option<&str>,
    ) -> serde_json::Value {
        self.next_id += 1;
        let mut message =
            serde_json::json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        loop {
            let mut reply = Vec::new();
            self.from_browser.read_until(0, &mut reply).unwrap();
            reply.pop();
            let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
            if reply["id"] == self.next_id {
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page, as a string.
    fn eval(&mut self, session: &str, expression: &str) -> String {
        let result = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
            Some(session),
        );
        result["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn wait_for(&mut self, session: &str, expression: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.eval(session, expression) == "true" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs chromium: scripts/test.sh runs it (scripts/setup.sh installs chromium)"]
fn a_real_browser_sees_a_new_alert_appear() {
    let Some(browser) = chromium("a_real_browser_sees_a_new_alert_appear") else {
        return;
    };
    let site = Site::new();
    let server = site.serve(&[]);
    let mut devtools = DevTools::start(&browser);
    let url = format!("http://{}/", server.addr);
    let target = devtools.call("Target.createTarget", serde_json::json!({"url": url}), None);
    let attached = devtools.call(
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        None,
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    assert!(
        devtools.wait_for(
            &session,
            "String(document.body && document.body.dataset.liveState === 'connected')",
            Duration::from_secs(20)
        ),
        "the page never connected to /live:\n{}",
        server.log()
    );
    let rows = |d: &mut DevTools| {
        d.eval(
            &session,
            "String(document.querySelectorAll('#alerts tr').length)",
        )
    };
    let before: usize = rows(&mut devtools).parse().unwrap();
    let known = site.alert_dirs();
    site.ingest(&["mock", "--count", "1", "--seed", "777"]);
    let new = site
        .alert_dirs()
        .into_iter()
        .find(|d| !known.contains(d))
        .unwrap();
    let row_there = format!(
        "String(!!document.getElementById({:?}))",
        format!("row-{new}")
    );
    assert!(
        devtools.wait_for(&session, &row_there, Duration::from_secs(2)),
        "the browser did not show {new} within 2 s"
    );
    let took = since_complete(&site.root.join(&new));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(rows(&mut devtools).parse::<usize>().unwrap(), before + 1);
    assert!(devtools
        .eval(&session, "document.title")
        .starts_with("new: "));
}
