//! The trace viewer: one self-contained HTML file with a space-time diagram of a
//! run — a lane per node, an arrow per message (filterable by kind), faults and
//! role changes marked, the leader and epoch over time, and the violation, if any,
//! highlighted. The page's script and style are in `viewer.html`; the run's
//! records are embedded as JSON, so the file opens anywhere without a server.

use crate::report::{Report, Violation};
use crate::trace::Record;
use serde::Serialize;

const TEMPLATE: &str = include_str!("viewer.html");
const DATA_MARK: &str = "/*RUN-DATA*/null";

#[derive(Serialize)]
struct Page<'a> {
    title: &'a str,
    seed: u64,
    election: &'a str,
    nodes: u32,
    end_us: u64,
    digest: &'a str,
    violations: &'a [Violation],
    records: &'a [Record],
}

/// The HTML page for a run: `records` from [`crate::world::run_recorded`], `report`
/// its outcome, `title` what to call it.
pub fn html(title: &str, report: &Report, records: &[Record]) -> Result<String, String> {
    let page = Page {
        title,
        seed: report.seed,
        election: &report.election,
        nodes: report.nodes,
        end_us: report.virtual_ms * 1000,
        digest: &report.digest,
        violations: &report.violations,
        records,
    };
    let json = serde_json::to_string(&page).map_err(|e| format!("cannot encode the run: {e}"))?;
    // Inside a <script> element, "</" could end it early; "<\/" means the same to
    // JavaScript.
    let json = json.replace("</", "<\\/");
    if !TEMPLATE.contains(DATA_MARK) {
        return Err("the viewer template has no place for the run".into());
    }
    Ok(TEMPLATE.replacen(DATA_MARK, &json, 1))
}
