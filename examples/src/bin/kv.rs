//! ringleader-kv (to come).
fn main() {}
