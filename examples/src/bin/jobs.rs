//! `ringleader-jobs`: runs a command on exactly one node of a quorum cluster
//! at a time, and again elsewhere after a failover.
//!
//! ```text
//! ringleader-jobs --id 1 --election quorum --voters 1,2,3 -- ./my-job --flag
//! ```
//!
//! Before the `--`: the flags of `ringleader node` (`--config` included);
//! after it: the job. The job sees `RINGLEADER_EPOCH` (its fencing token:
//! pass it along with whatever it writes, and let the receiver refuse a lower
//! one) and `RINGLEADER_NODE`.
//!
//! The job runs under a supervisor (this program, `supervise`), which holds a
//! pipe from the node and kills the job's process group when the node's
//! lease, renewed over the pipe, runs out or the pipe closes: the job never
//! outlives its node's leadership, even after `kill -9` of the node or while
//! the node process stands still (see `ringleader_examples::jobs`).

use ringleader_examples::jobs::start_entry;
use ringleader_runtime::embed::NodeHandle;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};

/// How often the node checks its fence and renews the job's lease.
const RENEW_EVERY: Duration = Duration::from_millis(50);
/// After the job (or its supervisor) exits, the wait before it starts again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

const USAGE: &str = "usage: ringleader-jobs <the flags of `ringleader node`> -- COMMAND [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("supervise") {
        return supervise::main(args.get(1..).unwrap_or_default());
    }
    ringleader_examples::init_logging();
    let Some(split) = args.iter().position(|a| a == "--") else {
        eprintln!("error: the job is missing (after --)\n{USAGE}");
        return ExitCode::from(2);
    };
    let (node_args, job) = (&args[..split], &args[split + 1..]);
    if job.is_empty() {
        eprintln!("error: the job is missing (after --)\n{USAGE}");
        return ExitCode::from(2);
    }
    let options = match ringleader::node_options(node_args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if options.config.election != ringleader_core::Algorithm::Quorum {
        eprintln!("error: ringleader-jobs needs a lease to run the job on one node only: --election quorum");
        return ExitCode::from(2);
    }
    let Some(runtime) = ringleader::async_runtime(2) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(options, job.to_vec())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The job's supervisor, and the pipe that keeps it alive.
struct Running {
    supervisor: Child,
    pipe: ChildStdin,
    epoch: u64,
}

async fn run(options: ringleader_runtime::NodeOptions, job: Vec<String>) -> Result<(), String> {
    let node = NodeHandle::start(options)
        .await
        .map_err(|e| e.to_string())?;
    let mut running: Option<Running> = None;
    let mut not_before = tokio::time::Instant::now();
    let shutdown = ringleader::node::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(RENEW_EVERY) => {}
        }
        if let Some(r) = &mut running {
            if let Ok(Some(status)) = r.supervisor.try_wait() {
                tracing::warn!(%status, epoch = r.epoch, "the job ended; starting it again in a second if this node still leads");
                running = None;
                not_before = tokio::time::Instant::now() + RESTART_AFTER;
            }
        }
        let fence = node.fence().await.ok().filter(|f| f.holds());
        let Some(fence) = fence else {
            stop(&mut running, "this node no longer leads").await;
            continue;
        };
        if running.as_ref().is_some_and(|r| r.epoch != fence.epoch) {
            stop(&mut running, "a new epoch").await;
        }
        // What the supervisor may count on: the lease left, less a margin
        // for the pipe and for the supervisor's own scheduling.
        let left = fence
            .lease_until
            .map(|u| u.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_default();
        let grant = left.saturating_sub(left / 4);
        if running.is_none() && tokio::time::Instant::now() >= not_before {
            running = start(&node, &job, fence.epoch, grant).await;
        }
        if let Some(r) = &mut running {
            let line = format!("lease {}\n", grant.as_millis());
            if r.pipe.write_all(line.as_bytes()).await.is_err() {
                tracing::warn!("the job's supervisor is gone");
            }
        }
    }
    stop(&mut running, "the node is stopping").await;
    node.shutdown().await.map_err(|e| e.to_string())
}

async fn start(node: &NodeHandle, job: &[String], epoch: u64, grant: Duration) -> Option<Running> {
    let me = std::env::current_exe().ok()?;
    let mut cmd = tokio::process::Command::new(me);
    cmd.arg("supervise")
        .args(["--epoch", &epoch.to_string()])
        .args(["--node", &node.id().0.to_string()])
        .args(["--lease-ms", &grant.as_millis().to_string()])
        .arg("--")
        .args(job)
        .stdin(std::process::Stdio::piped());
    let mut supervisor = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the job's supervisor");
            return None;
        }
    };
    let pipe = supervisor.stdin.take()?;
    tracing::info!(epoch, "leading: the job starts here");
    // Recorded on the side: waiting for the commit here would hold back the
    // renewals the supervisor needs.
    let (record, proposer) = (start_entry(epoch, node.id()), node.proposer());
    tokio::spawn(async move {
        if let Err(e) = proposer.propose(record).await {
            tracing::warn!(error = %e, "the start was not recorded in the log");
        }
    });
    Some(Running {
        supervisor,
        pipe,
        epoch,
    })
}

/// Closes the pipe (the supervisor kills the job) and waits for the supervisor.
async fn stop(running: &mut Option<Running>, why: &str) {
    let Some(Running {
        mut supervisor,
        pipe,
        epoch,
    }) = running.take()
    else {
        return;
    };
    tracing::info!(epoch, why, "stopping the job");
    drop(pipe);
    if tokio::time::timeout(Duration::from_secs(5), supervisor.wait())
        .await
        .is_err()
    {
        let _ = supervisor.kill().await;
    }
}

mod supervise {
    //! `ringleader-jobs supervise --epoch E --node N --lease-ms MS -- COMMAND...`:
    //! runs the job in a process group of its own and kills the group when
    //! the lease renewed on stdin runs out or stdin closes.

    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    use std::process::ExitCode;
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::time::{Duration, Instant};

    fn flag(args: &[String], name: &str) -> Option<String> {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).cloned()
    }

    pub(super) fn main(args: &[String]) -> ExitCode {
        let split = args.iter().position(|a| a == "--");
        let (Some(epoch), Some(node), Some(lease), Some(split)) = (
            flag(args, "--epoch"),
            flag(args, "--node"),
            flag(args, "--lease-ms").and_then(|m| m.parse::<u64>().ok()),
            split,
        ) else {
            eprintln!(
                "usage: ringleader-jobs supervise --epoch E --node N --lease-ms MS -- COMMAND..."
            );
            return ExitCode::from(2);
        };
        let Some((program, rest)) = args.get(split + 1..).and_then(|j| j.split_first()) else {
            eprintln!("error: no job to supervise");
            return ExitCode::from(2);
        };
        let mut job = match std::process::Command::new(program)
            .args(rest)
            .env("RINGLEADER_EPOCH", &epoch)
            .env("RINGLEADER_NODE", &node)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot start {program}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let group = i32::try_from(job.id()).map(Pid::from_raw).ok();
        let (tx, rx) = mpsc::channel::<u64>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let ms = line.strip_prefix("lease ").and_then(|m| m.parse().ok());
                if ms.is_some_and(|ms| tx.send(ms).is_err()) {
                    break;
                }
            }
            // Dropping `tx` tells the supervisor the node is gone.
        });
        let mut deadline = Instant::now() + Duration::from_millis(lease);
        let why = loop {
            if let Ok(Some(status)) = job.try_wait() {
                return ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1));
            }
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            match rx.recv_timeout(wait) {
                Ok(ms) => deadline = Instant::now() + Duration::from_millis(ms),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    break "the lease ran out";
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break "the node closed the pipe",
            }
        };
        eprintln!("ringleader-jobs supervise: {why}; killing the job (epoch {epoch})");
        if let Some(group) = group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = job.kill();
        let _ = job.wait();
        ExitCode::from(3)
    }
}
