//! Why a run could not be carried out.

use std::fmt;

/// Why a run could not be carried out.
#[derive(Debug)]
pub enum SimError {
    /// The configuration is unusable.
    Config(String),
    /// Writing the trace failed.
    Trace(std::io::Error),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Config(e) => write!(f, "invalid simulation: {e}"),
            SimError::Trace(e) => write!(f, "cannot write the trace: {e}"),
        }
    }
}

impl std::error::Error for SimError {}
