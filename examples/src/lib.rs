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
