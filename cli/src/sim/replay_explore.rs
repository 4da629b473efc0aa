//! `sim replay` of a scenario in the `[explore]` form: the scripted moves a
//! `sim explore` counterexample was saved as, made again on the same code,
//! with the trace written and the viewer drawn on request.

use ringleader_sim::explore::{script, Script};
use ringleader_sim::report::{Report, Violation};
use ringleader_sim::scenario::Scenario;
use std::path::Path;
use std::process::ExitCode;

/// Where a replay writes what it shows.
pub struct Outputs<'a> {
    /// The file replayed, for titles.
    pub file: &'a Path,
    /// The moves in words.
    pub trace: Option<&'a Path>,
    /// The trace viewer.
    pub html: Option<&'a Path>,
    /// One JSON object on stdout.
    pub json: bool,
}

/// Replays `script`: exit 0 when the expected invariant fails again, 1 when
/// it does not (or the script no longer fits), 2 for bad usage.
pub fn replay(scenario: &Scenario, script: &Script, out: &Outputs<'_>) -> ExitCode {
    let replayed = script::replay(&scenario.config, script);
    let expected = scenario.expect.violation.as_deref();
    let (reproduced, why) = match &replayed {
        Ok(r) => match (&r.broken, expected) {
            (Some(b), Some(e)) if b.invariant == e => (true, String::new()),
            (Some(b), _) => (false, format!("{} failed instead", b.invariant)),
            (None, _) => (false, "every invariant held".to_owned()),
        },
        Err(e) => (false, e.clone()),
    };
    if let Ok(r) = &replayed {
        if let Err(e) = write_outputs(scenario, r, out) {
            return super::usage_error(e);
        }
    }
    let steps: &[String] = replayed.as_ref().map_or(&[], |r| &r.steps);
    let broken = replayed.as_ref().ok().and_then(|r| r.broken.as_ref());
    if out.json {
        println!(
            "{}",
            serde_json::json!({
                "reproduced": reproduced,
                "expected": expected,
                "invariant": broken.as_ref().map(|b| b.invariant),
                "detail": broken.as_ref().map(|b| b.detail.clone()),
                "moves": steps,
                "not_reproduced_because": (!reproduced).then_some(why),
            })
        );
    } else {
        if !scenario.name.is_empty() {
            println!("scenario: {}", scenario.name);
        }
        for (k, step) in steps.iter().enumerate() {
            println!("  {k:>3}. {step}");
        }
        match (&broken, reproduced) {
            (Some(b), true) => {
                println!("reproduced: invariant {} fails: {}", b.invariant, b.detail)
            }
            _ => println!("NOT reproduced: {why}"),
        }
    }
    if reproduced {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn write_outputs(
    scenario: &Scenario,
    r: &script::Replayed,
    out: &Outputs<'_>,
) -> Result<(), String> {
    if let Some(path) = out.trace {
        let text: String = r
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| format!("{k:>4} {s}\n"))
            .collect();
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write the trace to {}: {e}", path.display()))?;
    }
    if let Some(path) = out.html {
        let report = report_of(scenario, r);
        let title = if scenario.name.is_empty() {
            out.file.display().to_string()
        } else {
            scenario.name.clone()
        };
        let page = ringleader_sim::viewer::html(&title, &report, &r.records)?;
        std::fs::write(path, page)
            .map_err(|e| format!("cannot write the page to {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What the viewer reads of a run, for a scripted one: one millisecond a
/// move, the violation at the end.
fn report_of(scenario: &Scenario, r: &script::Replayed) -> Report {
    let config = &scenario.config;
    Report {
        seed: config.seed,
        nodes: config.nodes,
        events: r.moves,
        messages: 0,
        sent: 0,
        lost: 0,
        cut: 0,
        duplicated: 0,
        to_down_node: 0,
        faults: 0,
        virtual_ms: r.moves + 1,
        wall_ms: 0,
        digest: "scripted".to_owned(),
        violations: r
            .broken
            .iter()
            .map(|b| Violation {
                invariant: b.invariant,
                at_ms: r.moves,
                nodes: Vec::new(),
                detail: b.detail.clone(),
                explained_by: None,
            })
            .collect(),
        checks: Default::default(),
        election: config.node.election.to_string(),
        election_stats: Default::default(),
        leaders: Default::default(),
        clients: 0,
        replication: Default::default(),
    }
}
