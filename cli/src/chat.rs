//! `ringleader chat`: a chat client that finds the leader and follows it.

use clap::Args;
use ringleader_core::chat::ChatMessage;
use ringleader_core::client::ClientOutput;
use ringleader_core::log::Entry;
use ringleader_runtime::chat::{run_chat, ChatCommand, ChatOptions, ChatUpdate};
use ringleader_runtime::MulticastConfig;
use serde_json::json;
use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// Flags of `chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    /// Your name in the chat (1 to 64 printable bytes).
    #[arg(long)]
    user: String,
    /// A server to start from (any node's --listen, HOST:PORT; a host name is
    /// resolved; it redirects to the leader). Repeat it to give several.
    /// Without it the leader is found by multicast.
    #[arg(long = "server", value_name = "ADDR", value_parser = crate::parse::server)]
    servers: Vec<SocketAddr>,
    /// Multicast group for finding the leader.
    #[arg(long, default_value = "239.77.76.1")]
    group: Ipv4Addr,
    /// Multicast UDP port.
    #[arg(long, default_value_t = 7400)]
    mcast_port: u16,
    /// Interface (its IPv4 address) for multicast.
    #[arg(long, default_value = "127.0.0.1")]
    interface: Ipv4Addr,
    /// Messages kept while no leader acknowledges them; beyond it sending is refused.
    #[arg(long, default_value_t = 1000, value_parser = crate::parse::count)]
    buffer: usize,
    /// When input ends, wait this long for unacknowledged messages before leaving.
    #[arg(long, default_value = "10s", value_parser = crate::parse::duration)]
    linger: Duration,
    /// Print one JSON object per event instead of text.
    #[arg(long)]
    json: bool,
    /// File holding the client key, if the cluster requires one (or set
    /// RINGLEADER_CLIENT_KEY to the key itself).
    #[arg(long, value_name = "FILE")]
    client_key_file: Option<std::path::PathBuf>,
}

/// What a chat entry says (another application's entry: its bytes, as text).
fn text_of(e: &Entry) -> String {
    let text = ChatMessage::of(e).map_or(&e.payload[..], |m| m.text);
    String::from_utf8_lossy(text).into_owned()
}

/// Who wrote a chat entry; `-` for another application's.
fn author_of(e: &Entry) -> &str {
    ChatMessage::of(e).map_or("-", |m| m.author)
}

fn entry_json(e: &Entry) -> serde_json::Value {
    json!({"event": "entry", "index": e.index, "author": author_of(e), "text": text_of(e),
           "time_ms": e.at.as_millis(), "epoch": e.epoch, "client": e.id.client})
}

/// The entry's time as a local time of day.
fn clock_of(e: &Entry) -> String {
    ringleader_runtime::human::local_clock(e.at.as_millis())
}

/// Prints one update, as JSON or as text, unless it is not worth printing.
fn show(update: &ChatUpdate, as_json: bool) {
    let line = if as_json {
        json_line(update)
    } else {
        text_line(update)
    };
    if let Some(line) = line {
        println!("{line}");
    }
}

/// One update as a JSON object, or `None` when it is not shown.
fn json_line(update: &ChatUpdate) -> Option<String> {
    match update {
        ChatUpdate::Output(ClientOutput::Entry(e)) if e.is_marker() => None,
        ChatUpdate::Output(ClientOutput::Entry(e)) => Some(entry_json(e).to_string()),
        ChatUpdate::Output(ClientOutput::History(entries)) => Some(
            json!({"event": "history", "entries": entries.iter().map(entry_json).collect::<Vec<_>>()})
                .to_string(),
        ),
        ChatUpdate::Output(ClientOutput::Presence { user, joined }) => Some(
            json!({"event": if *joined { "join" } else { "leave" }, "user": user}).to_string(),
        ),
        ChatUpdate::Output(ClientOutput::Connected { leader, epoch, users }) => Some(
            json!({"event": "leader", "leader": leader.0, "epoch": epoch, "users": users}).to_string(),
        ),
        ChatUpdate::Output(ClientOutput::LeaderChanged { old, new, epoch }) => Some(
            json!({"event": "leader_changed", "old": old.0, "leader": new.0, "epoch": epoch}).to_string(),
        ),
        ChatUpdate::Output(ClientOutput::LeaderLost { reason }) => {
            Some(json!({"event": "leader_lost", "reason": reason}).to_string())
        }
        ChatUpdate::Output(ClientOutput::Acked { seq }) => {
            Some(json!({"event": "acked", "seq": seq}).to_string())
        }
        ChatUpdate::Output(ClientOutput::Rewritten { from }) => {
            Some(json!({"event": "rewritten", "from": from}).to_string())
        }
        ChatUpdate::Output(ClientOutput::HistoryStarts { first }) => {
            Some(json!({"event": "history_starts", "first": first}).to_string())
        }
        ChatUpdate::Output(ClientOutput::Refused(why)) => {
            Some(json!({"event": "refused", "reason": why}).to_string())
        }
        ChatUpdate::Refused(e) => Some(json!({"event": "not_sent", "reason": e.to_string()}).to_string()),
        ChatUpdate::Status { leader, unacked, next_index } => Some(
            json!({"event": "status", "leader": leader.map(|l| l.0 .0), "epoch": leader.map(|l| l.1),
                   "unacked": unacked, "seen": next_index.saturating_sub(1)})
            .to_string(),
        ),
        ChatUpdate::Unreachable { server, error } => Some(
            json!({"event": "unreachable", "server": server.to_string(), "error": error}).to_string(),
        ),
        ChatUpdate::NoSession => Some(json!({"event": "no_session"}).to_string()),
        ChatUpdate::NothingFound { waited, servers, multicast } => Some(
            json!({"event": "nothing_found", "waited_ms": waited.as_millis() as u64,
                   "servers": servers.iter().map(ToString::to_string).collect::<Vec<_>>(),
                   "group": multicast.group.to_string(), "port": multicast.port,
                   "interface": multicast.interface.to_string(), "hint": nothing_found_hint(servers, multicast)})
            .to_string(),
        ),
    }
}

/// One update as a line of text, or `None` when it is not shown.
fn text_line(update: &ChatUpdate) -> Option<String> {
    match update {
        ChatUpdate::Output(ClientOutput::Entry(e)) if e.is_marker() => None,
        ChatUpdate::Output(ClientOutput::Entry(e)) => {
            Some(format!("[{}] {}: {}", clock_of(e), author_of(e), text_of(e)))
        }
        ChatUpdate::Output(ClientOutput::History(entries)) => Some(
            std::iter::once(format!("-- last {} messages --", entries.len()))
                .chain(entries.iter().map(|e| format!("#{} [{}] {}: {}", e.index, clock_of(e), author_of(e), text_of(e))))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ChatUpdate::Output(ClientOutput::Presence { user, joined }) => Some(format!(
            "* {user} {}",
            if *joined { "joined" } else { "left" }
        )),
        ChatUpdate::Output(ClientOutput::Connected { leader, epoch, users }) => Some(format!(
            "* connected to leader {leader} (epoch {epoch}); here: {}",
            users.join(", ")
        )),
        ChatUpdate::Output(ClientOutput::LeaderChanged { old, new, epoch }) => {
            Some(format!("* the leader changed: {old} -> {new} (epoch {epoch})"))
        }
        ChatUpdate::Output(ClientOutput::LeaderLost { reason }) => {
            Some(format!("* lost the leader ({reason}); looking for the next one"))
        }
        ChatUpdate::Output(ClientOutput::Acked { .. }) => None,
        ChatUpdate::Output(ClientOutput::Rewritten { from }) => Some(format!(
            "* a split brain healed: the history you saw parts from the merged one after #{}; the merged history follows from #{from}",
            from.saturating_sub(1)
        )),
        ChatUpdate::Output(ClientOutput::HistoryStarts { first }) => Some(format!(
            "* the history before #{first} is no longer kept (the cluster's retention); it goes on from #{first}"
        )),
        ChatUpdate::Output(ClientOutput::Refused(why)) => Some(format!("! refused: {why}")),
        ChatUpdate::Refused(e) => Some(format!("! {e}")),
        ChatUpdate::Status { leader, unacked, next_index } => Some(match leader {
            Some((l, e)) => format!(
                "* leader {l} (epoch {e}); {unacked} messages waiting for acknowledgement; seen up to #{}",
                next_index.saturating_sub(1)
            ),
            None => format!("* no leader yet; {unacked} messages waiting"),
        }),
        ChatUpdate::Unreachable { server, error } => {
            Some(format!("! cannot reach {server}: {error}; still trying"))
        }
        ChatUpdate::NoSession => Some("! no leader reachable right now; try again".into()),
        ChatUpdate::NothingFound { waited, servers, multicast } => Some(format!(
            "! no node of the cluster answered in {:.0} s; still trying. {}",
            waited.as_secs_f64(),
            nothing_found_hint(servers, multicast)
        )),
    }
}

/// What to check when no node answers.
fn nothing_found_hint(servers: &[SocketAddr], m: &MulticastConfig) -> String {
    if servers.is_empty() {
        format!(
            "Is a cluster running (`ringleader cluster` starts one)? Does it announce on \
             multicast group {}:{} on interface {} (--group, --mcast-port, --interface must \
             match the nodes')? Or name a node with --server HOST:PORT.",
            m.group, m.port, m.interface
        )
    } else {
        let list: Vec<String> = servers.iter().map(ToString::to_string).collect();
        format!(
            "Do the nodes at {} run (`ringleader status --server {}` asks one)? Is a \
             firewall in the way?",
            list.join(", "),
            list.first().map_or("", String::as_str)
        )
    }
}

/// Turns one input line into a command; `Err` is a usage message for the user.
fn command_of(line: &str) -> Result<Option<ChatCommand>, String> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Ok((!trimmed.is_empty()).then(|| ChatCommand::Send(trimmed.to_owned())));
    };
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some("history"), None) => Ok(Some(ChatCommand::History(20))),
        (Some("history"), Some(n)) => n
            .parse::<u32>()
            .map(|n| {
                Some(ChatCommand::History(
                    n.min(ringleader_core::wire::MAX_HISTORY),
                ))
            })
            .map_err(|_| format!("/history takes a number, not '{n}'")),
        (Some("status"), _) => Ok(Some(ChatCommand::Status)),
        (Some("quit"), _) => Ok(Some(ChatCommand::Quit(Duration::from_secs(5)))),
        _ => {
            Err("commands: /history [N], /status, /quit (a line starting with // sends a /)".into())
        }
    }
    .or_else(|e| {
        // "//text" sends "/text".
        if let Some(text) = trimmed.strip_prefix("//") {
            Ok(Some(ChatCommand::Send(format!("/{text}"))))
        } else {
            Err(e)
        }
    })
}

/// The client's options from the flags, or the usage error to print.
fn options(args: &ChatArgs) -> Result<ChatOptions, String> {
    let user = args.user.trim().to_owned();
    if user.is_empty()
        || user.len() > ringleader_core::wire::MAX_USER_NAME
        || user.chars().any(char::is_control)
    {
        return Err(format!(
            "--user must be 1 to {} printable bytes",
            ringleader_core::wire::MAX_USER_NAME
        ));
    }
    Ok(ChatOptions {
        client_key: crate::keys::client_key(args.client_key_file.as_deref())?,
        user,
        servers: args.servers.clone(),
        multicast: MulticastConfig {
            group: args.group,
            port: args.mcast_port,
            interface: args.interface,
            ttl: 1,
        },
        buffer_limit: args.buffer,
        wait_when_full: !std::io::stdin().is_terminal(),
    })
}

/// Runs `chat`.
pub fn run(args: ChatArgs) -> ExitCode {
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let Some(runtime) = crate::async_runtime(1) else {
        return ExitCode::FAILURE;
    };
    let interactive = std::io::stdin().is_terminal();
    let (as_json, linger) = (args.json, args.linger);
    let code = runtime.block_on(async move {
        let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(1024);
        let (up_tx, mut up_rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(update) = up_rx.recv().await {
                show(&update, as_json);
            }
        });
        let reader = tokio::spawn(async move {
            if interactive {
                eprintln!("type a message and Enter to send; /history [N], /status, /quit");
            }
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match command_of(&line) {
                    Ok(Some(cmd)) => {
                        let quit = matches!(cmd, ChatCommand::Quit(_));
                        if cmd_tx.send(cmd).await.is_err() || quit {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(usage) => eprintln!("{usage}"),
                }
            }
            let _ = cmd_tx.send(ChatCommand::Quit(linger)).await;
        });
        let result = run_chat(opts, cmd_rx, up_tx).await;
        reader.abort();
        let _ = printer.await;
        match result {
            Ok(summary) if summary.unacked == 0 && summary.refused == 0 => ExitCode::SUCCESS,
            Ok(summary) => {
                if summary.unacked > 0 {
                    eprintln!(
                        "error: left with {} messages no leader acknowledged (they may not have been committed)",
                        summary.unacked
                    );
                }
                if summary.refused > 0 {
                    eprintln!("error: {} messages were not sent (refused: see above)", summary.refused);
                }
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // A read of stdin may still block on its thread: do not wait for it.
    runtime.shutdown_background();
    code
}
