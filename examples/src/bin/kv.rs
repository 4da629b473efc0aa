//! `ringleader-kv`: a replicated key-value store. Every node runs a ringleader
//! node (the flags of `ringleader node`, `--config` included) and serves a
//! line protocol on `--kv ADDR`:
//!
//! - `PUT key value` → `OK <index>` once the write is committed;
//! - `GET key` → `VALUE <index> <value>` or `NOTFOUND`, served only by the
//!   fenced leader after it applied everything committed before the read;
//! - a follower answers `REDIRECT <leader id>` (or `REDIRECT -`), a leader
//!   just elected `RETRY`; a write not committed within 10 s (a leader cut
//!   off from the others) `ERR ...: it may still commit`; anything else `ERR <why>`.
//!
//! ```text
//! ringleader-kv --kv 127.0.0.1:9001 --id 1 --election quorum --voters 1,2,3
//! ```

use ringleader_examples::kv::{self, Kv};
use ringleader_runtime::embed::{Follower, NodeHandle, ProposeError};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Longest request line.
const LINE_MAX: usize = 64 << 10;
/// Most client connections at once; more wait to be accepted.
const CONNECTIONS_MAX: usize = 256;
/// How long a write may wait for its commit.
const PUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A snapshot of the store every so many entries (`--snapshot-every`).
const SNAPSHOT_EVERY: u64 = 1024;

const USAGE: &str =
    "usage: ringleader-kv --kv ADDR [--snapshot-every N] <the flags of `ringleader node`>";

/// Removes `name VALUE` from `args`: the value, `None` if absent, `Err` if
/// the value is missing.
fn take_flag(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    let Some(at) = args.iter().position(|a| a == name) else {
        return Ok(None);
    };
    let value = args
        .get(at + 1)
        .cloned()
        .ok_or(format!("{name} needs a value"))?;
    args.drain(at..at + 2);
    Ok(Some(value))
}

fn main() -> std::process::ExitCode {
    ringleader_examples::init_logging();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match take_flag(&mut args, "--kv") {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            eprintln!("error: --kv ADDR is missing\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let every = match take_flag(&mut args, "--snapshot-every").map(|v| v.map(|n| n.parse::<u64>()))
    {
        Ok(None) => SNAPSHOT_EVERY,
        Ok(Some(Ok(n))) if n > 0 => n,
        Ok(Some(_)) | Err(_) => {
            eprintln!("error: --snapshot-every takes a number of entries, at least 1\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let options = match ringleader::node_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    if options.config.election != ringleader_core::Algorithm::Quorum {
        // Only a quorum lease makes a leader's own reads safe.
        eprintln!("error: ringleader-kv serves reads from the fenced leader: it runs under --election quorum only");
        return std::process::ExitCode::from(2);
    }
    let Some(runtime) = ringleader::async_runtime(2) else {
        return std::process::ExitCode::FAILURE;
    };
    match runtime.block_on(serve(addr, every, options)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(
    addr: String,
    every: u64,
    options: ringleader_runtime::NodeOptions,
) -> Result<(), String> {
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let snapshot = options.data_dir.join("kv.snapshot");
    let node = NodeHandle::start(options)
        .await
        .map_err(|e| e.to_string())?;
    let store = Follower::start(&node, Kv::default(), every, Some(snapshot))?;
    tracing::info!(%addr, "serving the store");
    let shared = Arc::new((node, store));
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    loop {
        tokio::select! {
            () = ringleader::node::shutdown_signal() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _permit = permit;
                    let (node, store) = &*shared;
                    if let Err(e) = client(stream, node, store).await {
                        tracing::debug!(error = %e, "client connection ended");
                    }
                });
            }
        }
    }
    match Arc::try_unwrap(shared) {
        Ok((node, store)) => {
            drop(store);
            node.shutdown().await.map_err(|e| e.to_string())
        }
        Err(_) => Ok(()), // clients still connected: the node stops as the process ends
    }
}

async fn client(stream: TcpStream, node: &NodeHandle, store: &Follower<Kv>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut lines)
            .take(LINE_MAX as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > LINE_MAX {
            write.write_all(b"ERR request line too long\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let answer = answer(text.trim_end_matches(['\r', '\n']), node, store).await;
        write.write_all(answer.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
}

async fn answer(request: &str, node: &NodeHandle, store: &Follower<Kv>) -> String {
    let mut words = request.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("PUT"), Some(key), value) => {
            let entry = match kv::put(key, value.unwrap_or_default()) {
                Ok(e) => e,
                Err(e) => return format!("ERR {e}"),
            };
            // A leader cut off from the others cannot commit, nor know yet
            // that it never will: the client is told, not kept waiting.
            match tokio::time::timeout(PUT_TIMEOUT, node.propose(entry)).await {
                Ok(Ok(index)) => format!("OK {index}"),
                Ok(Err(e)) => refusal(&e),
                Err(_) => format!(
                    "ERR not committed within {} s: it may still commit",
                    PUT_TIMEOUT.as_secs()
                ),
            }
        }
        (Some("GET"), Some(key), None) => get(key, node, store).await,
        _ => "ERR expected PUT key value, or GET key".to_owned(),
    }
}

/// A read only the fenced leader serves: it waits until its state applied
/// everything committed when the fence was taken, and answers only if the
/// lease still holds after the read.
async fn get(key: &str, node: &NodeHandle, store: &Follower<Kv>) -> String {
    let fence = match node.fence().await {
        Ok(f) => f,
        Err(e) => return refusal(&e),
    };
    if let Err(e) = store.wait_applied(fence.commit).await {
        return format!("ERR {e}");
    }
    let value = store
        .state()
        .state()
        .get(key)
        .map(|(v, i)| (v.to_owned(), i));
    if !fence.holds() {
        return "RETRY".to_owned(); // the lease ran out during the read
    }
    match value {
        Some((v, index)) => format!("VALUE {index} {v}"),
        None => "NOTFOUND".to_owned(),
    }
}

fn refusal(e: &ProposeError) -> String {
    match e {
        ProposeError::NotLeader { leader: Some(l) } => format!("REDIRECT {}", l.0),
        ProposeError::NotLeader { leader: None } => "REDIRECT -".to_owned(),
        ProposeError::Syncing | ProposeError::Full => "RETRY".to_owned(),
        other => format!("ERR {other}"),
    }
}
