//! The `ringleader` command's node, as a library: the flags of `ringleader
//! node` and its `--config` file, turned into the
//! [`NodeOptions`] that
//! [`ringleader_runtime::embed::NodeHandle::start`] runs, so a service that
//! embeds a node is configured exactly as a node started by hand.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = ringleader::node_options(["--id", "1", "--config", "/etc/ringleader/node.toml"])?;
//! let node = ringleader_runtime::embed::NodeHandle::start(options).await?;
//! # Ok(())
//! # }
//! ```

// The doc comments of the command's flags are its `--help`, written for a
// terminal (`n<id>.log`, `/history [N]`), not for rustdoc.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

pub mod keys;
pub mod node;
pub mod node_config;
pub mod parse;

use ringleader_runtime::NodeOptions;
use std::ffi::OsString;

/// Exit status for bad usage: bad flags, unreadable or unwritable files.
pub const EXIT_USAGE: u8 = 2;

/// A node's options from the flags of `ringleader node` (what follows `node`
/// on its command line), with the settings of the `--config` file they name
/// under them: the same checks, the same defaults. The error is what the
/// command would print.
pub fn node_options<I, S>(args: I) -> Result<NodeOptions, String>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    node_config::try_parse(&args)?.options()
}

/// A tokio runtime with `threads` worker threads (1: on the calling thread only);
/// `None`, with the reason printed, if the system will not give one.
pub fn async_runtime(threads: usize) -> Option<tokio::runtime::Runtime> {
    let built = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    built
        .map_err(|e| eprintln!("error: cannot start the async runtime: {e}"))
        .ok()
}
