//! Two programs built on ringleader's embedding API, each with its
//! application checked in the simulator:
//!
//! - [`kv`]: a replicated key-value store; writes go through the leader's
//!   log, reads are served only by the fenced leader (`ringleader-kv`);
//! - [`jobs`]: a leader-only job runner; the job runs on exactly one node of
//!   a quorum cluster at a time, with the epoch as its fencing token, and
//!   never outlives its node (`ringleader-jobs`).

pub mod jobs;
pub mod kv;

/// Logs to stderr at `info` (or `RUST_LOG`), coloured only on a terminal:
/// what both programs print.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// A committed entry at `index` carrying `payload`, for the state machines' tests.
#[cfg(test)]
fn test_entry(index: u64, payload: &[u8]) -> ringleader_core::log::Entry {
    let id = ringleader_core::log::ClientMsgId {
        client: 1,
        seq: index,
    };
    let mut e =
        ringleader_core::log::Entry::new(id, payload.to_vec(), ringleader_core::Instant::ZERO);
    e.index = index;
    e
}
