//! The messages between a chat client and the servers.

use crate::id::{NodeId, NodeInfo};
use crate::log::Entry;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A client's identity: a random 64-bit number it picks once per session, so its
/// messages' ids (client, sequence) are unique across failovers. 0 is reserved.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("c{}", self.0))
    }
}

/// Longest user name a server accepts.
pub const MAX_USER_NAME: usize = 64;
/// Longest chat message a server accepts, in bytes.
pub const MAX_CHAT_BYTES: usize = 16 * 1024;
/// Most entries a history request returns.
pub const MAX_HISTORY: u32 = 1000;
/// Most runs of seen entries a client names when it resumes.
pub const MAX_SEEN_RUNS: usize = 16;

/// Client to server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClientMsg {
    /// "Who leads?", by multicast datagram; every server answers with
    /// [`ServerMsg::Here`].
    Probe,
    /// Opens a session at the leader; a non-leader answers with a redirect.
    Hello {
        /// The user's name.
        user: String,
        /// The first committed index the client has not seen yet (1 for all).
        from_index: u64,
        /// True when the client had a session before (a failover, not a join).
        resume: bool,
        /// The last runs of entries the client saw, oldest first (at most
        /// [`MAX_SEEN_RUNS`]): under `bully`/`ring` the leader finds from them
        /// where the client's history and its own part after a split brain.
        seen: Vec<crate::log::SeenRun>,
    },
    /// A chat message, numbered 1, 2, 3, ... by the client; resent with the same
    /// number until acknowledged.
    Chat {
        /// The client's number for it.
        seq: u64,
        /// What was written.
        #[serde(with = "serde_bytes")]
        text: Vec<u8>,
    },
    /// The last `last` committed messages.
    History {
        /// How many.
        last: u32,
    },
    /// Keeps the session alive and checks the server still is.
    Ping,
    /// Leaves for good.
    Bye,
    /// An entry of the client's own application, not a chat message: appended
    /// as it is (at most [`MAX_CHAT_BYTES`]), numbered in the same sequence as
    /// the client's chat messages, resent and acknowledged the same way.
    Write {
        /// The client's number for it.
        seq: u64,
        /// The entry's payload.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
}

/// Server to client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The answer to a probe: who answers, and whom it names as leader.
    Here {
        /// The server answering.
        server: NodeInfo,
        /// The leader it knows of, if any.
        leader: Option<NodeInfo>,
        /// The epoch of that leadership.
        epoch: u64,
    },
    /// "I do not lead; go there" (or, with no leader, "try again shortly").
    Redirect {
        /// The leader this server knows of, if any.
        leader: Option<NodeInfo>,
        /// The epoch of that leadership.
        epoch: u64,
    },
    /// The session is open at the leader.
    Welcome {
        /// The leader.
        leader: NodeId,
        /// Its epoch.
        epoch: u64,
        /// The users connected to it.
        users: Vec<String>,
        /// The next message number the leader expects from this client (every
        /// number below it is already in the log).
        next_seq: u64,
        /// The client's view of the history was rewritten: the merged history
        /// after a split brain parts from what it saw after the entry before this
        /// index, and the stream starts again here.
        rewrite_from: Option<u64>,
    },
    /// Every message of this client up to `seq` is committed.
    Ack {
        /// The highest number committed.
        seq: u64,
    },
    /// Committed entries, in order, continuing the client's stream.
    Entries(Vec<Entry>),
    /// The answer to a history request.
    History(Vec<Entry>),
    /// A user joined or left.
    Presence {
        /// Who.
        user: String,
        /// Joined (true) or left (false).
        joined: bool,
    },
    /// The answer to a ping.
    Pong,
    /// The request was refused, with the reason (a bad name, an oversized message).
    Refused(String),
    /// The secret that proves this client's id when it connects again (sent by
    /// a driver holding a cluster key, on the client's first connection; see the
    /// runtime's `auth::client_secret`). A sans-IO client ignores it; its driver
    /// keeps it.
    Secret([u8; 16]),
    /// The entries before `first` are no longer kept (the leader's retention
    /// deleted them): the client's stream, or the history it asked for,
    /// continues from `first`.
    HistoryStarts {
        /// The first index the leader still holds.
        first: u64,
    },
}

impl ClientMsg {
    /// A short name, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Probe => "Probe",
            ClientMsg::Hello { .. } => "Hello",
            ClientMsg::Chat { .. } => "Chat",
            ClientMsg::History { .. } => "History",
            ClientMsg::Ping => "Ping",
            ClientMsg::Bye => "Bye",
            ClientMsg::Write { .. } => "Write",
        }
    }
}

impl fmt::Display for ClientMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientMsg::Hello {
                user,
                from_index,
                resume,
                ..
            } => write!(
                f,
                "Hello {user} from {from_index}{}",
                if *resume { " resume" } else { "" }
            ),
            ClientMsg::Chat { seq, .. } => write!(f, "Chat #{seq}"),
            ClientMsg::Write { seq, .. } => write!(f, "Write #{seq}"),
            ClientMsg::History { last } => write!(f, "History {last}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl ServerMsg {
    /// A short name, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMsg::Here { .. } => "Here",
            ServerMsg::Redirect { .. } => "Redirect",
            ServerMsg::Welcome { .. } => "Welcome",
            ServerMsg::Ack { .. } => "Ack",
            ServerMsg::Entries(_) => "Entries",
            ServerMsg::History(_) => "History",
            ServerMsg::Presence { .. } => "Presence",
            ServerMsg::Pong => "Pong",
            ServerMsg::Refused(_) => "Refused",
            ServerMsg::Secret(_) => "Secret",
            ServerMsg::HistoryStarts { .. } => "HistoryStarts",
        }
    }
}

impl fmt::Display for ServerMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |l: &Option<NodeInfo>| l.map_or("none".to_owned(), |l| l.id.to_string());
        match self {
            ServerMsg::Here {
                server,
                leader,
                epoch,
            } => write!(f, "Here {} leader {} e{epoch}", server.id, name(leader)),
            ServerMsg::Redirect { leader, epoch } => {
                write!(f, "Redirect to {} e{epoch}", name(leader))
            }
            ServerMsg::Welcome {
                leader,
                epoch,
                next_seq,
                ..
            } => write!(f, "Welcome {leader} e{epoch} next #{next_seq}"),
            ServerMsg::Ack { seq } => write!(f, "Ack #{seq}"),
            ServerMsg::Entries(e) | ServerMsg::History(e) => match (e.first(), e.last()) {
                (Some(a), Some(b)) => write!(f, "{} [{}..{}]", self.kind(), a.index, b.index),
                _ => write!(f, "{} []", self.kind()),
            },
            ServerMsg::Presence { user, joined } => {
                write!(
                    f,
                    "Presence {user} {}",
                    if *joined { "joined" } else { "left" }
                )
            }
            ServerMsg::Refused(why) => write!(f, "Refused: {why}"),
            ServerMsg::Pong => f.write_str("Pong"),
            ServerMsg::Secret(_) => f.write_str("Secret"),
            ServerMsg::HistoryStarts { first } => write!(f, "HistoryStarts #{first}"),
        }
    }
}
