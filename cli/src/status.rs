//! `ringleader status`: asks one node how it stands.

use crate::node::DEFAULT_PORT_BASE;
use clap::Args;
use ringleader_runtime::envelope::{Preface, StatusReply};
use ringleader_runtime::frames::{frame, FrameReader};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Flags of `status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The node to ask (its --listen address, HOST:PORT; a host name is
    /// resolved). Default: node 1 on this machine.
    #[arg(long, value_parser = crate::parse::server)]
    server: Option<SocketAddr>,
    /// Print one JSON object instead of text (on failure too: `{"error": ...}`,
    /// and a non-zero exit).
    #[arg(long)]
    json: bool,
    /// How long to wait for the answer.
    #[arg(long, default_value = "2s", value_parser = crate::parse::duration)]
    timeout: Duration,
}

pub(crate) async fn ask(addr: SocketAddr) -> Result<StatusReply, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("no node answers at {addr}: {e}"))?;
    let (read, mut write) = stream.into_split();
    let preface = frame(&Preface::Status).ok_or("cannot encode the query")?;
    write
        .write_all(&preface)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    FrameReader::<StatusReply>::new(read, addr)
        .next()
        .await
        .ok_or_else(|| {
            format!("{addr} closed the connection without a status (not a ringleader node?)")
        })
}

/// Runs `status`.
pub fn run(args: StatusArgs) -> ExitCode {
    let addr = args
        .server
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT_BASE + 1)));
    let Some(runtime) = crate::async_runtime(1) else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        tokio::time::timeout(args.timeout, ask(addr))
            .await
            .unwrap_or_else(|_| Err(format!("{addr} did not answer within {:?}", args.timeout)))
    });
    match result {
        Ok(StatusReply(status)) => {
            if args.json {
                match serde_json::to_string(&status) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("{status}");
            }
            ExitCode::SUCCESS
        }
        Err(e) if args.json => {
            // A script reading JSON gets JSON, failure included.
            println!("{}", json!({"error": e, "server": addr.to_string()}));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
