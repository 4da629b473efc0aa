//! Output into a closed pipe (`ringleader sim stats | head`).
//!
//! Rust ignores SIGPIPE, so `println!` into a pipe whose reader has gone panics
//! with "failed printing to stdout: Broken pipe". Restoring the signal would take
//! `unsafe`; instead such a panic ends the process quietly with the status a shell
//! gives a command killed by SIGPIPE (128 + 13), as `cat` or `yes` would end.

/// The status of a command whose reader went away.
const CLOSED_PIPE_STATUS: i32 = 141;

/// Installs the panic hook; every other panic is reported as before.
pub fn exit_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_PIPE_STATUS);
        }
        default(info);
    }));
}
