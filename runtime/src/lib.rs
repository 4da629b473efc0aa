//! # ringleader-runtime
//!
//! The tokio driver for [`ringleader_core::Node`] arrives with the real-network issue;
//! until then this crate only re-exports the core so the workspace layout is final.

pub use ringleader_core as core;
