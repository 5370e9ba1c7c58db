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
        self.serve_limited(extra, env, None)
    }

    /// The server, with at most `max_files` descriptors if given (soft and
    /// hard limit, set in the child before it runs).
    fn serve_limited(
        &self,
        extra: &[&str],
        env: &[(&str, &str)],
        max_files: Option<u64>,
    ) -> Server {
        use std::os::unix::process::CommandExt;
        let log = self.tmp.path().join(format!("serve-{}.log", unique()));
        let mut command = gocart_tests::with_settings(TRIGGER, &self.settings);
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(max) = max_files {
            // SAFETY: only setrlimit between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: max,
                        rlim_max: max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().unwrap();
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

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The server's resident memory, in MiB (VmRSS).
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024.0
    }

    /// How many descriptors the server has open.
    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Whether it is still running.
    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().unwrap().try_wait(), Ok(None))
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
    assert!(
        html.contains("runs queued"),
        "the status page tells queued runs from running ones: {html}"
    );
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
fn read_events(
    reader: &mut BufReader<TcpStream>,
    mut until: impl FnMut(&str, &str) -> bool,
) -> bool {
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

/// A stop is not held up by what clients leave open: a request whose head
/// never finishes (a stalled or hostile client), an idle keep-alive
/// connection and a live stream.
#[test]
fn a_stop_is_prompt_whatever_clients_leave_open() {
    let site = Site::new();
    let server = site.serve(&[]);
    let mut stalled = TcpStream::connect(&server.addr).unwrap();
    write!(stalled, "GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    write!(idle, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut live = open_live(&server.addr);
    assert!(read_events(&mut live, |event, _| event == "hello"));
    let started = std::time::Instant::now();
    let stopped = server.stop();
    let took = started.elapsed();
    assert!(stopped, "serve did not exit 0 within 10 s of SIGTERM");
    assert!(took < Duration::from_secs(7), "serve took {took:?} to stop");
    drop((stalled, idle, live));
}

/// One request with the head exactly as given (its own `Host`), over a new
/// connection: the status and the body, as text.
fn raw_request(addr: &str, head: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get_with_host(addr: &str, host: &str, extra: &str) -> (u16, String) {
    raw_request(
        addr,
        &format!("GET /status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"),
    )
}

/// DNS rebinding: a page of attacker.example whose name now points at
/// 127.0.0.1 makes the browser send `Host: attacker.example:PORT`.
#[test]
fn only_requests_naming_this_server_are_answered() {
    let site = Site::new();
    let server = site.serve(&["--public-name", "gocart.example.org"]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    for host in [
        server.addr.clone(),
        format!("localhost:{port}"),
        "localhost".into(),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "gocart.example.org".into(),
        format!("GoCart.Example.org:{port}"),
    ] {
        assert_eq!(get_with_host(&server.addr, &host, "").0, 200, "{host}");
    }
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".into(),
        format!("localhost.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let (status, body) = get_with_host(&server.addr, &host, "");
        assert_eq!(status, 421, "{host}");
        assert!(body.contains("--public-name"), "{body}");
        assert!(!body.contains("gocart-ingest"), "{host}: the page leaked");
    }
    // No Host at all (HTTP/1.0), and an absolute URL naming another site.
    let (status, _) = raw_request(&server.addr, "GET /status HTTP/1.0\r\n\r\n");
    assert_eq!(status, 421);
    let (status, _) = raw_request(
        &server.addr,
        &format!(
            "GET http://attacker.example:{port}/status HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status, 421);
    assert!(
        server.log().contains("attacker.example"),
        "{}",
        server.log()
    );

    // Token or not: the right token does not make another name acceptable.
    let token = "s3cret-T0ken-for-hosts";
    let server = site.serve(&["--token", token]);
    let bearer = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(get_with_host(&server.addr, &server.addr, &bearer).0, 200);
    let attacker = format!("attacker.example:{port}");
    assert_eq!(get_with_host(&server.addr, &attacker, &bearer).0, 421);
    assert_eq!(get_with_host(&server.addr, &attacker, "").0, 421);
}

/// Whether the server closed `stream` within `within` (reading and dropping
/// whatever it sends meanwhile).
fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    use std::io::Read;
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 16 * 1024];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed())
            }
            Err(_) => {}
        }
    }
    None
}

/// Sends `bytes` one at a time every `every`, until the server closes the
/// connection (then how long after the first byte) or `within` passes.
fn trickle(addr: &str, bytes: &[u8], every: Duration, within: Duration) -> Option<Duration> {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(every)).unwrap();
    let started = Instant::now();
    let mut sent = bytes.iter().cycle();
    while started.elapsed() < within {
        let byte = *sent.next().unwrap();
        if stream.write_all(&[byte]).is_err() {
            return Some(started.elapsed());
        }
        let mut buf = [0u8; 1024];
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed())
            }
            _ => {}
        }
    }
    None
}

/// Slowloris at the design's own figure: a head sent one byte a second is
/// dropped 10 s after its first byte.
#[test]
fn a_request_head_sent_one_byte_a_second_is_dropped_after_ten_seconds() {
    let site = Site::new();
    let server = site.serve(&[]);
    let head = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nX-Slow: {}",
        server.addr,
        "a".repeat(64)
    );
    let took = trickle(
        &server.addr,
        head.as_bytes(),
        Duration::from_secs(1),
        Duration::from_secs(16),
    );
    let took = took.expect("a one-byte-a-second head was still being read after 16 s");
    assert!(
        took >= Duration::from_secs(9) && took <= Duration::from_secs(13),
        "dropped after {took:?}"
    );
    assert_eq!(server.get("/static/style.css").status, 200);
}

/// The timeouts apart, shortened (hidden flags): an idle connection lasts
/// the idle timeout, a half-sent head only the header timeout, a busy
/// connection as long as it keeps asking.
#[test]
fn idle_connections_and_half_requests_are_dropped() {
    let site = Site::new();
    let server = site.serve(&["--header-timeout", "1", "--idle-timeout", "3"]);
    let addr = server.addr.clone();
    let within = Duration::from_secs(8);

    let silent = std::thread::spawn({
        let addr = addr.clone();
        move || closed_within(&mut TcpStream::connect(&addr).unwrap(), within)
    });
    let half = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            write!(stream, "GET / HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
            closed_within(&mut stream, within)
        }
    });
    let after_answer = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            write!(
                stream,
                "GET /static/style.css HTTP/1.1\r\nHost: {addr}\r\n\r\n"
            )
            .unwrap();
            closed_within(&mut stream, within)
        }
    });
    let slow = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let head = format!(
                "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}",
                "a".repeat(64)
            );
            trickle(&addr, head.as_bytes(), Duration::from_millis(200), within)
        }
    });
    // Asking every second keeps a connection well past the idle timeout.
    let busy = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let started = Instant::now();
            let mut answered = 0;
            while started.elapsed() < Duration::from_secs(6) {
                write!(stream, "GET /favicon.ico HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                // The 204 has a head only: read it to its end.
                while line != "\r\n" {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                }
                answered += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            answered
        }
    });
    let secs = |d: Option<Duration>, what: &str| {
        d.unwrap_or_else(|| panic!("{what}: still open after {within:?}"))
            .as_secs_f64()
    };
    let silent = secs(silent.join().unwrap(), "a connection that sends nothing");
    assert!(
        (2.5..5.0).contains(&silent),
        "silent: closed after {silent} s"
    );
    let half = secs(half.join().unwrap(), "a half-sent head");
    assert!(
        (0.8..2.5).contains(&half),
        "half a head: closed after {half} s"
    );
    let after = secs(after_answer.join().unwrap(), "idle after an answer");
    assert!(
        (2.5..5.0).contains(&after),
        "idle after an answer: {after} s"
    );
    let slow = secs(slow.join().unwrap(), "a head at 5 bytes a second");
    assert!(
        (0.8..2.5).contains(&slow),
        "slow head: closed after {slow} s"
    );
    assert!(busy.join().unwrap() >= 5, "a connection in use was closed");
}

/// A connection that the server has not closed: the socket, once connected.
fn connect_idle(addr: &str) -> Option<TcpStream> {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()
}

/// A flood of idle connections (more than the process may open files)
/// neither keeps a request out nor runs the server out of descriptors.
#[test]
fn a_thousand_idle_connections_do_not_keep_a_request_out() {
    let site = Site::new();
    let mut server = site.serve_limited(&[], &[], Some(1024));
    let addr = server.addr.clone();
    let flood = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let open: Vec<TcpStream> = (0..1100).filter_map(|_| connect_idle(&addr)).collect();
            let count = open.len();
            // Held open until the requests below are done.
            std::thread::sleep(Duration::from_secs(3));
            drop(open);
            count
        }
    });
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut asked = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let before = Instant::now();
        let reply = server.get("/");
        let took = before.elapsed();
        assert_eq!(reply.status, 200, "{}", server.log());
        slowest = slowest.max(took);
        asked += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let files = server.open_files();
    let connected = flood.join().unwrap();
    assert!(
        connected >= 1000,
        "only {connected} idle connections opened"
    );
    assert!(asked >= 10, "{asked} requests");
    assert!(
        slowest < Duration::from_secs(1),
        "a request took {slowest:?} among {connected} idle connections:\n{}",
        server.log()
    );
    assert!(files < 400, "the server holds {files} descriptors");
    assert!(server.alive());
    let log = server.log();
    assert!(!log.contains("Too many open files"), "{log}");
    assert_eq!(server.get("/status").status, 200);
}

/// An alert directory with a large file in it (served like any other).
fn with_big_file(site: &Site, mib: usize) -> (String, Vec<u8>) {
    let dir = site.alert_dirs()[0].clone();
    let mut bytes = Vec::with_capacity(mib << 20);
    let mut x: u32 = 12345;
    while bytes.len() < mib << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(site.root.join(&dir).join("big.fits"), &bytes).unwrap();
    (format!("/files/{dir}/big.fits"), bytes)
}

#[test]
fn a_range_of_a_file_is_exactly_those_bytes() {
    let site = Site::new();
    let (path, bytes) = with_big_file(&site, 3);
    let len = bytes.len();
    let server = site.serve(&[]);
    let whole = server.get(&path);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert!(whole.body == bytes, "the whole file differs");

    let part = server.request("GET", &path, &[("Range", "bytes=1000-1999")]);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 1000-1999/{len}").as_str())
    );
    assert_eq!(part.header("content-length"), Some("1000"));
    assert!(part.body == bytes[1000..2000], "bytes 1000-1999 differ");

    let open_ended = server.request("GET", &path, &[("Range", "bytes=3000000-")]);
    assert_eq!(open_ended.status, 206);
    assert!(open_ended.body == bytes[3_000_000..]);
    let suffix = server.request("GET", &path, &[("Range", "bytes=-10")]);
    assert_eq!(suffix.status, 206);
    assert!(suffix.body == bytes[len - 10..]);
    assert_eq!(
        suffix.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str())
    );

    let past = server.request("GET", &path, &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    // Several ranges: the whole file, which the standard allows.
    let several = server.request("GET", &path, &[("Range", "bytes=0-1,5-6")]);
    assert_eq!(several.status, 200);
    assert_eq!(several.body.len(), len);
    // Ranges change nothing of which files may be served.
    let dir = site.alert_dirs()[0].clone();
    let hidden = server.request(
        "GET",
        &format!("/files/{dir}/.gocart-complete"),
        &[("Range", "bytes=0-9")],
    );
    assert_eq!(hidden.status, 404);
}

/// A download: the request sent, the answer's head and first bytes read,
/// then left for the client to read later (a slow client).
fn start_download(addr: &str, path: &str) -> TcpStream {
    use std::io::Read;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 64 * 1024];
    let mut got = 0;
    while got < first.len() {
        match stream.read(&mut first[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(first.starts_with(b"HTTP/1.1 200"), "{:?}", &first[..64]);
    stream
}

/// Files are streamed: a hundred slow clients downloading an 8 MiB file at
/// once do not make the server hold 800 MiB.
#[test]
fn slow_downloads_keep_memory_bounded() {
    use std::io::Read;
    let site = Site::new();
    let (path, bytes) = with_big_file(&site, 8);
    let server = site.serve(&[]);
    assert_eq!(server.get("/").status, 200);
    let before = server.rss_mib();
    let mut downloads: Vec<TcpStream> = (0..100)
        .map(|_| start_download(&server.addr, &path))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = server.rss_mib();
    // Pages are still answered meanwhile.
    let started = Instant::now();
    assert_eq!(server.get("/status").status, 200);
    let status_took = started.elapsed();
    assert!(
        during < 100.0,
        "the server's memory grew from {before:.0} MiB to {during:.0} MiB with 100 downloads"
    );
    assert!(
        status_took < Duration::from_secs(2),
        "/status took {status_took:?}"
    );
    // And one of them, read to its end, is the whole file.
    let mut last = downloads.pop().unwrap();
    let mut rest = Vec::new();
    last.read_to_end(&mut rest).unwrap();
    let head_len = b"HTTP/1.1 200".len();
    assert!(
        rest.len() + 64 * 1024 > bytes.len() + head_len,
        "{}",
        rest.len()
    );
    assert!(
        bytes.ends_with(&rest[rest.len() - 1024..]),
        "the end of the download differs"
    );
    drop(downloads);
}

/// A connection whose receive buffer is small (4 KiB), so that a client
/// that does not read fills it at once.
fn connect_small_buffer(addr: &str) -> TcpStream {
    use std::os::fd::FromRawFd;
    let addr: std::net::SocketAddrV4 = addr.parse().unwrap();
    // SAFETY: plain socket calls on a descriptor we own, handed to TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let sockaddr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&sockaddr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(connected, 0, "{}", std::io::Error::last_os_error());
        TcpStream::from_raw_fd(fd)
    }
}

/// `count` new complete alert directories, made beside the tree (hidden
/// name) and renamed into it one by one, as the ingester does; their
/// relative paths.
fn burst_of_directories(site: &Site, count: usize) -> Vec<String> {
    let sample = site.root.join(&site.alert_dirs()[0]);
    let staging = site.root.join(".burst");
    let mut made = Vec::new();
    for i in 0..count {
        let event = format!("MS77{i:05}x");
        let name = sample.file_name().unwrap();
        let built = staging.join(&event).join(name);
        std::fs::create_dir_all(&built).unwrap();
        for entry in std::fs::read_dir(&sample).unwrap().flatten() {
            let file = entry.file_name();
            if file == ".gocart-complete" {
                continue;
            }
            std::fs::hard_link(entry.path(), built.join(&file)).unwrap();
        }
        let mut marker: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sample.join(".gocart-complete")).unwrap())
                .unwrap();
        marker["superevent_id"] = event.clone().into();
        std::fs::write(
            built.join(".gocart-complete"),
            serde_json::to_vec(&marker).unwrap(),
        )
        .unwrap();
        let kind = sample.parent().unwrap().parent().unwrap();
        std::fs::rename(staging.join(&event), kind.join(&event)).unwrap();
        made.push(rel(&site.root, &kind.join(&event).join(name)));
        // Paced a little: a page that reads keeps up even on a loaded
        // machine; one that does not read falls behind all the same.
        std::thread::sleep(Duration::from_millis(2));
    }
    made
}

/// A hundred live pages that never read and a burst of new directories:
/// each directory is rendered once (not once per page), the pages that do
/// not read are closed rather than buffered for, memory stays flat and the
/// other pages answer at once; a page that reads gets every announcement.
#[test]
fn live_pages_that_do_not_read_are_dropped_and_each_change_is_rendered_once() {
    let site = Site::new();
    let server = site.serve_with_env(&[], &[("GOCART_LOG", "gocart_trigger=debug,info")]);
    let mut reader = open_live(&server.addr);
    assert!(read_events(&mut reader, |event, _| event == "hello"));
    let mut stalled: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut stream = connect_small_buffer(&server.addr);
            write!(
                stream,
                "GET /live HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                server.addr
            )
            .unwrap();
            stream
        })
        .collect();
    // Every page subscribed: its hello is there (read up to it, no further).
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"data: live\n\n") {
            use std::io::Read;
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "no hello");
            seen.push(byte[0]);
        }
    }
    let before = server.rss_mib();
    let burst = 400;
    let addr = server.addr.clone();
    let timing = std::thread::spawn(move || {
        let mut slowest = Duration::ZERO;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            let asked = Instant::now();
            assert_eq!(request(&addr, "GET", "/status", &[]).status, 200);
            slowest = slowest.max(asked.elapsed());
            std::thread::sleep(Duration::from_millis(100));
        }
        slowest
    });
    // The page that reads, reading all along.
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let reading = std::thread::spawn(move || {
        let mut seen = std::collections::HashSet::new();
        read_events(&mut reader, |event, data| {
            if event == "alert" {
                let notice: serde_json::Value = serde_json::from_str(data).unwrap();
                seen.insert(notice["dir"].as_str().unwrap().to_string());
            }
            seen.len() == burst
        });
        seen
    });
    let made = burst_of_directories(&site, burst);
    let seen = reading.join().unwrap();
    let missing = made.iter().filter(|d| !seen.contains(*d)).count();
    assert_eq!(
        missing,
        0,
        "announcements that never came to the page that reads (it saw {}):\n{}",
        seen.len(),
        server
            .log()
            .lines()
            .filter(|l| !l.contains("rendered once"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let slowest = timing.join().unwrap();
    let after = server.rss_mib();
    let deadline = Instant::now() + Duration::from_secs(10);
    let closed = stalled
        .iter_mut()
        .filter_map(|s| {
            let left = deadline.saturating_duration_since(Instant::now());
            closed_within(s, left.max(Duration::from_millis(200)))
        })
        .count();
    assert_eq!(
        closed,
        100,
        "pages that do not read left open: {}",
        100 - closed
    );
    assert!(
        after - before < 30.0,
        "memory grew from {before:.0} to {after:.0} MiB"
    );
    assert!(slowest < Duration::from_secs(1), "/status took {slowest:?}");
    let log = server.log();
    assert!(log.contains("does not read"), "{log}");
    let renders = log.matches("rendered once for").count();
    assert_eq!(renders, burst, "renders per change (not per page)");
}

/// Browsers ask for /favicon.ico on every page: no 404, no warning.
#[test]
fn the_icon_is_served_quietly() {
    let site = Site::new();
    let server = site.serve(&[]);
    let html = server.get("/").text();
    assert!(html.contains("rel=\"icon\""), "{html}");
    let icon = server.get("/static/icon.svg");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.text().starts_with("<svg"));
    let favicon = server.get("/favicon.ico");
    assert!(
        favicon.status == 204 || favicon.status == 200,
        "{}",
        favicon.status
    );
    let log = server.log();
    assert!(!log.contains("favicon"), "{log}");
}

/// At the cap, a new connection takes the place of the one idle longest;
/// when every one is answering (live pages), the newcomer gets a 503 at
/// once rather than waiting.
#[test]
fn at_the_cap_the_longest_idle_connection_makes_room() {
    use std::io::Read;
    let site = Site::new();
    let server = site.serve(&["--max-connections", "3"]);
    let mut idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.get("/status").status, 200);
    // The oldest idle one was closed for it.
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(2)).is_some(),
        "the longest idle connection is still open"
    );
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    let mut pages: Vec<BufReader<TcpStream>> = (0..3).map(|_| open_live(&server.addr)).collect();
    for page in &mut pages {
        assert!(read_events(page, |event, _| event == "hello"));
    }
    let mut extra = TcpStream::connect(&server.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = String::new();
    let _ = extra.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply:?}");
    drop(pages);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get("/status").status, 200);
}
