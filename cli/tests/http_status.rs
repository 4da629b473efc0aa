//! A real node's HTTP face: `/metrics` scraped and parsed as a monitoring
//! system would, `/status` against `ringleader status --json`, the page read
//! back from headless chromium (members, ring, roles; a hostile client name
//! shown as text), and the refusals: an unknown path, an address in use.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::browser::{browser_or_skip, dump_dom};
use real::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// One plain HTTP/1.0 GET: (status code, body). The test's own client, so
/// what is checked is the server's bytes, not a library's reading of them.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// The samples of an OpenMetrics text: `name{labels}` -> value. Panics on a
/// line that is neither a comment nor a sample.
fn samples(text: &str) -> BTreeMap<String, f64> {
    assert!(text.trim_end().ends_with("# EOF"), "no EOF marker:\n{text}");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').expect("a sample is NAME VALUE");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        assert!(
            name.starts_with("ringleader_"),
            "a sample outside the namespace: {line}"
        );
        out.insert(name.to_owned(), value);
    }
    out
}

/// The leader's metrics after a client connected and a message committed.
fn metrics_say_what_the_cluster_does(m: &BTreeMap<String, f64>, leader: u64) {
    assert_eq!(m["ringleader_role{role=\"leader\"}"], 1.0);
    assert_eq!(m["ringleader_role{role=\"follower\"}"], 0.0);
    assert_eq!(m["ringleader_members{state=\"alive\"}"], 2.0);
    assert_eq!(m["ringleader_leader"], leader as f64);
    assert!(m["ringleader_commit_index"] >= 2.0, "{m:?}");
    assert!(m["ringleader_committed_entries_total"] >= 2.0);
    assert!(m["ringleader_term"] >= 1.0 && m["ringleader_epoch"] >= 1.0);
    assert!(m["ringleader_elections_total"] <= m["ringleader_term"]);
    for link in ["peer", "client"] {
        for dir in ["in", "out"] {
            let frames = format!("ringleader_frames_total{{link=\"{link}\",direction=\"{dir}\"}}");
            let bytes =
                format!("ringleader_traffic_bytes_total{{link=\"{link}\",direction=\"{dir}\"}}");
            assert!(m[&frames] >= 1.0, "{frames}: {m:?}");
            assert!(m[&bytes] > m[&frames], "{bytes}");
        }
    }
    // Power durability (the default): the leader synced, and timed each sync.
    assert!(m["ringleader_fsync_seconds_count"] >= 1.0);
    assert_eq!(
        m["ringleader_fsync_seconds_bucket{le=\"+Inf\"}"],
        m["ringleader_fsync_seconds_count"]
    );
    assert!(m.contains_key("ringleader_queue_depth{queue=\"writer\"}"));
}

fn http_addr(ports: &Ports, id: u32) -> String {
    format!("127.0.0.1:{}", u32::from(ports.base) + 10 + id)
}

#[test]
fn a_node_serves_metrics_status_json_and_a_page_a_browser_draws() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("http");
    let cluster = format!("http-{}", ports.base);
    let https: Vec<String> = (1..=3).map(|id| http_addr(&ports, id)).collect();
    let nodes: Vec<NodeProc> = (1..=3)
        .map(|id| {
            let http = &https[id as usize - 1];
            let flags = ["--election", "quorum", "--http", http.as_str()];
            start_node(&cluster, &ports, id, &scratch, &flags)
        })
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let leader = wait_for(Duration::from_secs(30), "a leader", || {
        agreed_leader(&addrs)
    });
    let mut chat = ChatProc::start(
        "<img src=x onerror=alert(1)>",
        &ports,
        &scratch,
        &server_flags(&addrs),
    );
    chat.say("hello over http");
    wait_for(Duration::from_secs(20), "the message committed", || {
        chat.entries()
            .iter()
            .any(|e| e.2 == "hello over http")
            .then_some(())
    });
    let lead_http = &https[leader as usize - 1];

    // Metrics: every line parses, and they say what the cluster is doing.
    let m = wait_for(Duration::from_secs(10), "metrics with traffic", || {
        let (code, body) = get(lead_http, "/metrics")?;
        assert_eq!(code, 200);
        let m = samples(&body);
        (m.get("ringleader_client_sessions") == Some(&1.0)).then_some(m)
    });
    metrics_say_what_the_cluster_does(&m, leader);

    // /status is the object `status --json` prints.
    let (code, body) = get(lead_http, "/status").unwrap();
    assert_eq!(code, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let cli = status(&addrs[leader as usize - 1]).unwrap();
    for key in [
        "id",
        "cluster",
        "election",
        "role",
        "leader",
        "ring",
        "started_at_ms",
    ] {
        assert_eq!(json[key], cli[key], "{key}");
    }
    assert_eq!(json["http"], format!("http://{lead_http}/"));
    assert!(!json["recent_roles"].as_array().unwrap().is_empty());

    // Anything else is a 404 that says what is served.
    let (code, body) = get(lead_http, "/admin").unwrap();
    assert_eq!(code, 404);
    assert!(body.contains("/metrics"), "{body}");

    // The page, as a browser builds it.
    if let Some(chromium) = browser_or_skip() {
        let dom = dump_dom(&chromium, &format!("http://{lead_http}/"), &scratch.0);
        assert!(
            dom.contains("<span id=\"role\" class=\"leader\">leader</span>"),
            "{dom}"
        );
        assert_eq!(dom.matches("data-member=").count(), 2, "{dom}");
        assert!(dom.contains("id=\"ring\""), "{dom}");
        assert!(dom.contains("id=\"roles\""), "{dom}");
        // The client's name is text: no image element was made of it.
        assert!(!dom.contains("<img"), "{dom}");
        assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "{dom}");
    }
    drop(chat);
}

#[test]
fn an_http_address_in_use_stops_the_node_with_a_clear_error() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("http-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(BIN)
        .args(["node", "--id", "1", "--port-base", &ports.base.to_string()])
        .args(["--mcast-port", &ports.mcast.to_string(), "--http", &addr])
        .arg("--data-dir")
        .arg(scratch.0.join("n1"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot serve the status page on {addr}")),
        "{err}"
    );
    assert!(err.contains("in use"), "{err}");
    let bad = ringleader(&["node", "--id", "1", "--http", "nowhere"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--http"));
}

#[test]
fn a_flood_of_idle_connections_does_not_shut_the_page() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("http-flood");
    let http = http_addr(&ports, 1);
    let flags = [
        "--election",
        "quorum",
        "--voters",
        "1",
        "--http",
        http.as_str(),
    ];
    let node = start_node(
        &format!("flood-{}", ports.base),
        &ports,
        1,
        &scratch,
        &flags,
    );
    wait_for(Duration::from_secs(10), "the page of a leader", || {
        get(&http, "/status").filter(|(_, b)| b.contains("\"role\":\"leader\""))
    });
    // More idle connections than the server holds, kept open, saying nothing.
    let idle: Vec<std::net::TcpStream> = (0..40)
        .map(|_| std::net::TcpStream::connect(&http).unwrap())
        .collect();
    // A scraper that comes after them is served (an oldest idle one is closed
    // for it), well before the idle ones would time out (30 s).
    let started = std::time::Instant::now();
    let (code, body) = get(&http, "/status").expect("served despite the flood");
    assert_eq!(code, 200);
    assert!(body.contains("\"role\":\"leader\""), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The oldest idle connection was the one closed.
    let mut first = &idle[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(first.read(&mut buf), Ok(0) | Err(_)),
        "the oldest idle connection is closed"
    );
    assert!(status(&node.addr).is_some(), "the node serves on");
}
