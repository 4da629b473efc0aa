//! The job runner (to come).
