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

use real::browser::{browser_or_skip, dump_dom, screenshot_and_dom};
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

/// `data-NAME` of the body as text (the page's own account of its layout).
fn body_attr<'a>(dom: &'a str, name: &str) -> &'a str {
    let body = tags(dom, "body")[0];
    assert!(
        attr(body, "data-error").is_none(),
        "the page's script failed: {body}"
    );
    attr(body, &format!("data-{name}")).unwrap_or_else(|| panic!("no data-{name}: {body}"))
}

/// (node, from, to) of the rects of `class` that carry them.
fn spans(dom: &str, class: &str) -> Vec<(u64, f64, f64)> {
    with_class(dom, "rect", class)
        .into_iter()
        .filter_map(|r| {
            Some((
                attr(r, "data-node")?.parse().ok()?,
                attr(r, "data-from")?.parse().ok()?,
                attr(r, "data-to")?.parse().ok()?,
            ))
        })
        .collect()
}

/// A crashed node's lane is shaded and says so; no leader band outlives its
/// leader's crash.
fn no_leader_band_outlives_a_crash(dom: &str) {
    let crashed = spans(dom, "down-crashed");
    assert!(!crashed.is_empty(), "the heavy faults crash a node");
    assert!(dom.contains(">crashed</text>"), "the lane says crashed");
    let bands = spans(dom, "leader-band");
    assert!(!bands.is_empty());
    for (node, from, to) in &bands {
        for (down, at, until) in &crashed {
            assert!(
                node != down || to <= at || from >= until,
                "n{node} leads {from}..{to} while crashed {at}..{until}"
            );
        }
    }
}

#[test]
fn the_viewer_opens_on_the_whole_story_explains_itself_and_keeps_labels_apart() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let scratch = Scratch::new("story");
    let dir = &scratch.0;
    let scenario = dir.join("bug.toml");
    std::fs::write(
        &scenario,
        "name = \"planted bug\"\nseed = 1\nduration = \"20s\"\n[cluster]\nnodes = 3\n\
         election = \"quorum\"\n[clients]\ncount = 2\n[faults]\nrandom = \"heavy\"\n\
         [debug]\ninject_bug = \"ack-before-append\"\n",
    )
    .unwrap();
    let (page, report) = write_page(dir, "bug.html", &["--scenario", scenario.to_str().unwrap()]);
    assert!(report["faults"].as_u64().unwrap() > 2, "{report}");
    let url = format!("file://{}", page.display());
    let png = dir.join("bug.png");
    // A small screen: the story and the violation's box must still fit.
    let dom = screenshot_and_dom(&chromium, &url, (1000, 700), &png, dir);
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "a screenshot was taken"
    );
    assert_eq!(body_attr(&dom, "lanes"), "3");
    assert_eq!(
        body_attr(&dom, "faults-in-view"),
        body_attr(&dom, "faults"),
        "every fault is in the opening window"
    );
    assert_ne!(
        body_attr(&dom, "violations-in-view"),
        "0",
        "and the violation"
    );
    assert_eq!(body_attr(&dom, "violation-box"), "inside");
    assert_eq!(
        body_attr(&dom, "label-overlaps"),
        "0",
        "labels never overlap"
    );
    assert_eq!(
        body_attr(&dom, "labels-outside"),
        "0",
        "nor leave the diagram"
    );
    let legend: Vec<&str> = tags(&dom, "span")
        .into_iter()
        .filter_map(|t| attr(t, "data-item"))
        .collect();
    for item in [
        "leader-band",
        "leader",
        "candidate",
        "fault",
        "violation",
        "crashed",
        "paused",
        "partitioned",
        "dropped",
    ] {
        assert!(
            legend.contains(&item),
            "the legend explains {item}: {legend:?}"
        );
    }
    no_leader_band_outlives_a_crash(&dom);
    assert!(dom.contains("VIOLATED committed_agreement") || dom.contains("VIOLATED "));
    assert!(
        !dom.contains("ClientMsgId"),
        "plain words, not debug output"
    );
}

#[test]
fn the_pause_scenario_opens_on_the_pause_and_shades_it() {
    let Some(chromium) = browser_or_skip() else {
        return;
    };
    let scratch = Scratch::new("pause-view");
    let dir = &scratch.0;
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/pause-the-leader.toml");
    let (page, _) = write_page(
        dir,
        "pause.html",
        &["--scenario", scenario.to_str().unwrap()],
    );
    let dom = dump_dom(&chromium, &format!("file://{}", page.display()), dir);
    let from: f64 = body_attr(&dom, "from").parse().unwrap();
    let to: f64 = body_attr(&dom, "to").parse().unwrap();
    assert!(
        from <= 8e6 && 17e6 <= to,
        "the window {from}..{to} holds both pauses"
    );
    let paused = spans(&dom, "down-paused");
    assert_eq!(paused.len(), 2, "{paused:?}");
    assert!(paused.contains(&(3, 8e6, 11e6)), "{paused:?}");
    assert!(dom.contains(">paused</text>"));
    assert_eq!(body_attr(&dom, "violation-box"), "none");
    assert_eq!(body_attr(&dom, "label-overlaps"), "0");
}
