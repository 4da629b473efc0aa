//! Debian's chromium, headless, for tests that check what a browser builds
//! from a page (the trace viewer, a node's status page): the DOM is read back
//! after the page's script ran (`--dump-dom`).
//!
//! Without a chromium a test says so and passes, except on CI (`CI=true`),
//! where `.ci/run` installs one and a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RINGLEADER_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The browser, or `None` with the reason printed (a failure on CI).
pub fn browser_or_skip() -> Option<PathBuf> {
    let found = browser();
    if found.is_none() {
        let reason = "no chromium on PATH (apt-get install chromium, or set RINGLEADER_CHROMIUM)";
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI must check pages in a browser: {reason}"
        );
        eprintln!("skipping the browser test: {reason}");
    }
    found
}

static PROFILES: AtomicU32 = AtomicU32::new(0);

/// Chromium's flags for a quiet headless run in a profile of its own under
/// `scratch`, the page's timers run ahead by `virtual_ms`.
fn headless(chromium: &Path, scratch: &Path, virtual_ms: u32) -> Command {
    let profile = scratch.join(format!(
        "profile-{}",
        PROFILES.fetch_add(1, Ordering::SeqCst)
    ));
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--virtual-time-budget={virtual_ms}"))
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Runs `cmd` to its end (at most 90 s) and returns its stdout.
fn finish(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read stdout on a thread so a large DOM cannot fill the pipe and stall it.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("chromium did not finish {what} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap().unwrap()
}

/// The DOM of `url` after its script ran (5 s of the page's time).
pub fn dump_dom(chromium: &Path, url: &str, scratch: &Path) -> String {
    let mut cmd = headless(chromium, scratch, 5000);
    cmd.args(["--dump-dom", url]);
    finish(cmd, &format!("rendering {url}"))
}

/// A `width`×`height` screenshot of `url` written to `png`, then the DOM the
/// same way [`dump_dom`] reads it (the page laid out at that size).
pub fn screenshot_and_dom(
    chromium: &Path,
    url: &str,
    (width, height): (u32, u32),
    png: &Path,
    scratch: &Path,
) -> String {
    let mut shot = headless(chromium, scratch, 5000);
    shot.arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url);
    finish(shot, &format!("a screenshot of {url}"));
    let mut cmd = headless(chromium, scratch, 5000);
    cmd.arg(format!("--window-size={width},{height}"))
        .args(["--dump-dom", url]);
    finish(cmd, &format!("rendering {url}"))
}
