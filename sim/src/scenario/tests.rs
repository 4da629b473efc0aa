use super::{parse, Scenario};
use crate::faults::{Fault, FaultProfile};
use crate::world::run;
use ringleader_core::{Algorithm, NodeId};
use std::time::Duration;

/// The line and message of the error `text` gives.
fn error_of(text: &str) -> (Option<usize>, String) {
    match parse(text, "bad.toml") {
        Ok(_) => panic!("accepted a bad file:\n{text}"),
        Err(e) => {
            assert!(e.to_string().starts_with("bad.toml"), "{e}");
            (e.line, e.message)
        }
    }
}

#[test]
fn every_section_is_read() {
    let s = parse(
        r#"
name = "all"
seed = 9
duration = "12.5s"
[cluster]
nodes = 4
election = "quorum"
voters = ["n1", 2, "n3"]
heartbeat = "50ms"
start = { n4 = "3s" }
[network]
latency = "1ms..4ms"
loss = 0.1
[clients]
count = 2
rate = 3.5
servers = { c1 = ["n2"] }
[faults]
random = "light"
partitions = false
[[timeline]]
at = "2s"
fault = "partition n1,n2 | n3,n4"
[[timeline]]
at = "4s"
fault = "pause n2 for 1.5s"
[expect]
ok = true
leader = "n3"
"#,
        "all.toml",
    )
    .unwrap();
    let c = &s.config;
    assert_eq!((s.name.as_str(), c.seed, c.nodes), ("all", 9, 4));
    assert_eq!(c.duration, Duration::from_millis(12_500));
    assert_eq!(c.node.election, Algorithm::Quorum);
    assert_eq!(c.node.voters, vec![NodeId(1), NodeId(2), NodeId(3)]);
    assert_eq!(c.node.heartbeat_interval, Duration::from_millis(50));
    assert_eq!(c.network.latency_min, Duration::from_millis(1));
    assert_eq!(c.network.latency_max, Duration::from_millis(4));
    assert_eq!((c.network.loss, c.clients, c.rate), (0.1, 2, 3.5));
    assert_eq!((c.faults, c.partitions), (FaultProfile::Light, false));
    assert_eq!(c.schedule.len(), 2);
    assert_eq!(
        c.schedule[1].fault,
        Fault::Pause {
            node: NodeId(2),
            lasts: Duration::from_millis(1500)
        }
    );
    assert_eq!(s.expect.leader, Some(NodeId(3)));
}

#[test]
fn a_bad_file_names_the_line_and_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "seed = 1\n[cluster]\nnodez = 3\n",
            3,
            "unknown field `nodez`",
        ),
        ("duration = \"10 parsecs\"\n", 1, "duration"),
        ("[cluster]\nnodes = 0\n", 2, "nodes must be between 1"),
        ("[cluster]\nelection = \"raft\"\n", 2, "raft"),
        ("[network]\nloss = 1.5\n", 2, "probability"),
        ("[network]\nlatency = \"5ms..1ms\"\n", 2, "runs backwards"),
        (
            "[cluster]\nnodes = 3\n\n[[timeline]]\nat = \"1s\"\nfault = \"crash n4\"\n",
            6,
            "n4 is not in the cluster",
        ),
        (
            "[[timeline]]\nat = \"1s\"\nfault = \"explode n1\"\n",
            3,
            "explode",
        ),
        (
            "duration = \"5s\"\n[[timeline]]\nat = \"9s\"\nfault = \"heal\"\n",
            3,
            "after the end of the run",
        ),
        (
            "[clients]\ncount = 1\n[[timeline]]\nat = \"1s\"\nfault = \"client c3 leaves\"\n",
            5,
            "c3",
        ),
        ("[expect]\nleader = \"n9\"\n", 2, "n9 is not in the cluster"),
        ("[cluster\nnodes = 3\n", 1, ""),
    ];
    for (text, line, needle) in cases {
        let (got_line, message) = error_of(text);
        assert_eq!(got_line, Some(*line), "for {text:?}: {message}");
        assert!(
            message.contains(needle),
            "for {text:?}: '{message}' does not mention '{needle}'"
        );
    }
}

#[test]
fn a_missing_file_says_so() {
    let e = super::load(std::path::Path::new("/nonexistent/x.toml")).unwrap_err();
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("cannot read it"), "{e}");
}

fn heavy() -> Scenario {
    let mut s = Scenario {
        name: "a \"quoted\" name".into(),
        description: "two\nlines".into(),
        ..Scenario::default()
    };
    s.config.seed = 31;
    s.config.nodes = 4;
    s.config.clients = 2;
    s.config.faults = FaultProfile::Heavy;
    s.config.duration = Duration::from_secs(20);
    s.config.network.loss = 0.05;
    s
}

#[test]
fn a_written_file_reads_back_to_the_same_run() {
    let s = heavy();
    let back = parse(&s.to_toml(), "written.toml").unwrap();
    assert_eq!(
        (back.name.as_str(), back.description.as_str()),
        (s.name.as_str(), s.description.as_str())
    );
    assert_eq!(
        run(&back.config).unwrap().digest,
        run(&s.config).unwrap().digest
    );
}

#[test]
fn a_concrete_scenario_replays_its_random_faults_exactly() {
    let s = heavy();
    let concrete = s.concrete();
    assert_eq!(concrete.config.faults, FaultProfile::None);
    assert!(concrete.config.schedule.len() > 3, "heavy faults expected");
    let back = parse(&concrete.to_toml(), "replay.toml").unwrap();
    assert_eq!(back.config.schedule, concrete.config.schedule);
    assert_eq!(
        run(&back.config).unwrap().digest,
        run(&s.config).unwrap().digest
    );
}
