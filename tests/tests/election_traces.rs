//! Election traces, datadriven: every file in `tests/testdata/elections/` holds a
//! scenario, a `----` line, a legend and the expected trace in a compact form
//! (see `ringleader_tests::datadriven`). A change in any algorithm shows up as a
//! readable diff of the trace. `UPDATE=1 cargo test -p ringleader-tests --test
//! election_traces` rewrites the files; review the diff before committing.

use ringleader_tests::datadriven::{check_dir, Outcome};
use std::path::Path;

#[test]
fn election_traces_are_as_written_in_testdata() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/elections");
    let update = std::env::var_os("UPDATE").is_some_and(|v| v == "1");
    let outcomes = check_dir(&dir, update);
    assert!(
        outcomes.len() >= 27,
        "expected the trace files in {}, found {}",
        dir.display(),
        outcomes.len()
    );
    let mut failed = Vec::new();
    for (path, outcome) in &outcomes {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match outcome {
            Outcome::Same => {}
            Outcome::Updated => eprintln!("updated {name}"),
            Outcome::Differs(diff) => failed.push(format!(
                "{name}: the trace differs (- expected, + actual):\n{diff}"
            )),
            Outcome::Broken(why) => failed.push(format!("{name}: {why}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} trace files failed; rerun with UPDATE=1 to accept the new traces\n\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}
