//! The trace viewer (`sim run --html`) opened in a real headless browser
//! (Debian's chromium): the page's script must run without error and draw a
//! lane per node, an arrow per message in the window, the faults, the role
//! changes, the leader band, and the violation when there is one; a kind filter
//! given in the address must leave only that kind. The DOM is read back after
//! the script ran (`--dump-dom`), so this checks what the browser built, not the
//! file's text.
//!
//! Without a chromium the test says so and passes, except on CI (`CI=true`),
//! where `.ci/run` installs one and a missing browser is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::browser::{browser_or_skip, dump_dom};
use real::{ringleader, Scratch};

use std::path::{Path, PathBuf};

/// The DOM of `page#fragment` after its script ran.
fn rendered(chromium: &Path, page: &Path, fragment: &str, scratch: &Path) -> String {
    let url = format!("file://{}#{fragment}", page.display());
    let dom = dump_dom(chromium, &url, scratch);
    assert!(
        dom.contains("<svg"),
        "no diagram in the DOM of {url}:\n{dom:.2000}"
    );
    dom
}

/// The start tags `<tag ...>` in `dom`.
fn tags<'a>(dom: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    dom.match_indices(&open)
        .filter_map(|(i, _)| {
            dom.get(i..)
                .and_then(|t| t.find('>').and_then(|e| t.get(..e)))
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let rest = tag.get(start..)?;
    rest.get(..rest.find('"')?)
}

fn with_class<'a>(dom: &'a str, tag: &str, class: &str) -> Vec<&'a str> {
    tags(dom, tag)
        .into_iter()
        .filter(|t| attr(t, "class").is_some_and(|c| c.split(' ').any(|c| c == class)))
        .collect()
}

fn body_number(dom: &str, name: &str) -> u64 {
    let body = tags(dom, "body");
    let body = body.first().expect("a body");
    assert!(
        attr(body, "data-error").is_none(),
        "the page's script failed: {body}"
    );
    assert_eq!(
        attr(body, "data-rendered"),
        Some("1"),
        "not rendered: {body}"
    );
    attr(body, &format!("data-{name}"))
        .unwrap()
        .parse()
        .unwrap()
}

fn write_page(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, serde_json::Value) {
    let page = dir.join(name);
    let mut all = vec![
        "sim",
        "run",
        "--json",
        "--failures",
        dir.to_str().unwrap(),
        "--html",
    ];
    all.push(page.to_str().unwrap());
    all.extend_from_slice(args);
    let out = ringleader(&all);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(page.exists());
    (page, report)
}

#[test]
fn the_viewer_draws_lanes_arrows_faults_roles_and_filters_by_kind() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let scratch = Scratch::new("lanes");
    let dir = &scratch.0;
    let (page, report) = write_page(
        dir,
        "heavy.html",
        &[
            "--seed",
            "4",
            "--nodes",
            "4",
            "--duration",
            "20s",
            "--faults",
            "heavy",
            "--clients",
            "1",
        ],
    );
    let faults = report["faults"].as_u64().unwrap();
    assert!(faults > 0, "a run with faults to draw: {report}");

    let dom = rendered(&chromium, &page, "from=0&to=20", dir);
    assert_eq!(body_number(&dom, "lanes"), 4);
    let labels: Vec<&str> = with_class(&dom, "text", "lane-label");
    assert_eq!(labels.len(), 4, "a lane per node");
    assert_eq!(with_class(&dom, "line", "lane").len(), 4);
    let arrows = with_class(&dom, "line", "msg");
    assert!(!arrows.is_empty());
    assert_eq!(arrows.len() as u64, body_number(&dom, "arrows"));
    assert!(body_number(&dom, "visible") >= arrows.len() as u64);
    let kinds: std::collections::BTreeSet<&str> =
        arrows.iter().filter_map(|a| attr(a, "data-kind")).collect();
    assert!(kinds.contains("Heartbeat") && kinds.len() > 3, "{kinds:?}");
    assert_eq!(with_class(&dom, "line", "fault").len() as u64, faults);
    assert!(!with_class(&dom, "circle", "role-change").is_empty());
    assert!(!with_class(&dom, "circle", "role-leader").is_empty());
    assert!(!with_class(&dom, "rect", "leader-band").is_empty());
    assert!(
        dom.contains(" leads e"),
        "the leader and epoch are labelled"
    );
    assert!(
        with_class(&dom, "line", "viol").is_empty(),
        "no violation in a passing run"
    );

    // The kind filter from the address leaves only that kind's arrows.
    let filtered = rendered(&chromium, &page, "from=0&to=20&kinds=Election", dir);
    let only = with_class(&filtered, "line", "msg");
    assert!(!only.is_empty(), "heavy faults cause elections");
    assert!(only
        .iter()
        .all(|a| attr(a, "data-kind") == Some("Election")));
    assert!(only.len() < arrows.len());
}

#[test]
fn the_viewer_highlights_the_violation_and_survives_hostile_titles() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let scratch = Scratch::new("violation");
    let dir = &scratch.0;
    // A scenario whose name would end the page's <script> if it were not escaped,
    // running a planted bug so the run fails.
    let scenario = dir.join("hostile.toml");
    std::fs::write(
        &scenario,
        "name = \"</script><b>not bold</b> \\\"quoted\\\"\"\nseed = 1\nduration = \"20s\"\n\
         [cluster]\nnodes = 3\nelection = \"quorum\"\n[clients]\ncount = 2\n\
         [faults]\nrandom = \"light\"\n[debug]\ninject_bug = \"ack-before-append\"\n",
    )
    .unwrap();
    let (page, report) = write_page(
        dir,
        "failing.html",
        &["--scenario", scenario.to_str().unwrap()],
    );
    let invariant = report["violations"][0]["invariant"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without a window in the address the page opens at the violation.
    let dom = rendered(&chromium, &page, "", dir);
    assert_eq!(body_number(&dom, "lanes"), 3);
    assert!(
        tags(&dom, "b").is_empty(),
        "the title was injected as markup"
    );
    assert!(
        dom.contains("&lt;/script&gt;&lt;b&gt;not bold"),
        "the title is shown as text"
    );
    assert!(
        !with_class(&dom, "line", "viol").is_empty(),
        "the violation is marked"
    );
    assert!(dom.contains(&format!("violated: {invariant}")));
    assert!(dom.contains(&format!("VIOLATED {invariant} at ")));
    assert!(
        !with_class(&dom, "rect", "highlight").is_empty(),
        "its nodes are tinted"
    );
}
