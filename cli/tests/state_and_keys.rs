//! The state file and the key files, as a user meets them: `keygen`, a bad key,
//! a damaged `state.json`, and a quorum node that lost its state but kept its log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn keygen_writes_two_private_keys_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("keygen");
    let dir = scratch.0.join("keys");
    let out = ringleader(&["keygen", "--dir", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster = std::fs::read_to_string(dir.join("cluster.key")).unwrap();
    let client = std::fs::read_to_string(dir.join("client.key")).unwrap();
    assert_eq!(cluster.trim().len(), 64);
    assert_ne!(cluster, client);
    for f in ["cluster.key", "client.key"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let again = ringleader(&["keygen", "--dir", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(dir.join("cluster.key")).unwrap(),
        cluster
    );
}

#[test]
fn a_bad_key_is_one_clear_line_and_a_usage_error() {
    let scratch = Scratch::new("badkey");
    let key = scratch.0.join("bad.key");
    std::fs::write(&key, "not a key\n").unwrap();
    let out = ringleader(&[
        "node",
        "--id",
        "1",
        "--cluster-key-file",
        key.to_str().unwrap(),
        "--data-dir",
        scratch.0.join("n1").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.key") && err.contains("64"), "{err}");
    let out = Command::new(BIN)
        .args(["chat", "--user", "u"])
        .env("RINGLEADER_CLIENT_KEY", "abcd")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("RINGLEADER_CLIENT_KEY"));
}

/// Runs a one-voter quorum node until a chat message is committed, then kills it.
fn node_with_a_log(ports: &Ports, scratch: &Scratch) {
    let node = start_node(
        "state",
        ports,
        1,
        scratch,
        &["--election", "quorum", "--voters", "1"],
    );
    wait_for(Duration::from_secs(20), "a leader", || {
        agreed_leader(std::slice::from_ref(&node.addr))
    });
    let mut chat = ChatProc::start("u", ports, scratch, &["--server", &node.addr]);
    chat.say("kept");
    wait_for(Duration::from_secs(20), "the message", || {
        (!chat.entries().is_empty()).then_some(())
    });
    drop(chat);
    drop(node);
}

fn start_once(ports: &Ports, scratch: &Scratch, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["node", "--id", "1", "--cluster", "state"])
        .args(["--election", "quorum", "--voters", "1"])
        .args(["--port-base", &ports.base.to_string()])
        .args(["--mcast-port", &ports.mcast.to_string()])
        .arg("--data-dir")
        .arg(scratch.0.join("n1"))
        .args(extra);
    // A node that starts runs until killed: give it a moment, then stop it.
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[test]
fn a_damaged_or_missing_state_file_stops_a_quorum_node_with_its_name() {
    let ports = Ports::fresh();
    let scratch = Scratch::new("state-file");
    node_with_a_log(&ports, &scratch);
    let state = scratch.0.join("n1").join("state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("crc32"), "{text}");

    // One digit of the term changed: the file still parses.
    let damaged = text.replacen("\"term\": ", "\"term\": 9", 1);
    std::fs::write(&state, &damaged).unwrap();
    let out = start_once(&ports, &scratch, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state.json") && err.contains("checksum"),
        "{err}"
    );

    std::fs::remove_file(&state).unwrap();
    let out = start_once(&ports, &scratch, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state.json") && err.contains("--allow-missing-state"),
        "{err}"
    );

    // Told to, it starts (and is killed after a while, not failed).
    let out = start_once(&ports, &scratch, &["--allow-missing-state"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the state file is missing"), "{err}");
    assert!(err.contains("started"), "{err}");
}
