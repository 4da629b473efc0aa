//! ringleader-jobs (to come).
fn main() {}
