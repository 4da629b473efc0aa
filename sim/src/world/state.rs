//! What the world is made of: the servers' slots, the queue's items, the
//! checkers, the counters.

use crate::bugs::InjectedBug;
use crate::clients::SimClient;
use crate::clock::NodeClock;
use crate::disk::Disk;
use crate::faults::Fault;
use crate::invariants::{DiscoveryChecker, ElectionChecker, Observed, ReplicationChecker};
use crate::network::Network;
use crate::queue::EventQueue;
use crate::trace::Tracer;
use rand_chacha::ChaCha8Rng;
use ringleader_core::client::ClientAction;
use ringleader_core::link::{LinkAction, LinkFailure, Links};
use ringleader_core::wire::{ClientId, ClientMsg, Message, ServerMsg};
use ringleader_core::{Action, Config, Instant, Node, NodeId};
use std::collections::BTreeMap;
use std::time::Duration;

/// Something that happens at a virtual instant.
pub(super) enum Item {
    Start(usize),
    Tick(usize),
    Deliver {
        /// Four bytes, with `number`: the item stays 128 bytes.
        to: u32,
        /// The message's number, in the order messages were handed to the
        /// network (a duplicate keeps its original's), wrapping: the trace's
        /// digest takes it in on delivery, having taken the message in when
        /// it was sent.
        number: u32,
        msg: Message,
        /// When it was sent, for the trace viewer.
        sent: Instant,
        /// On a connection: the life of the receiver it was made with (a
        /// datagram, `None`, reaches whoever is up).
        life: Option<u64>,
    },
    /// News of a peer connection for node `node` in life `life`.
    Link {
        node: usize,
        life: u64,
        peer: usize,
        conn: u64,
        news: LinkNews,
    },
    Fault(Fault),
    /// A paused node carries on.
    Resume(usize),
    /// `process` durability: node `node` in life `life` hears its writes up
    /// to `token` reached the operating system.
    Written {
        node: usize,
        life: u64,
        token: u64,
    },
    /// A sync of node `node`'s disk in life `life`, covering writes up to
    /// `token`, is done.
    Synced {
        node: usize,
        life: u64,
        token: u64,
    },
    /// A read of node `node`'s disk in life `life`, of the entries from
    /// `from` on, is done.
    ReadDone {
        node: usize,
        life: u64,
        from: u64,
        outcome: crate::disk::ReadOutcome,
    },
    ClientStart(usize),
    ClientTick(usize),
    ClientSend(usize),
    /// A client's segment reaches a server on connection `link`.
    ToServer {
        server: usize,
        life: u64,
        client: usize,
        link: u64,
        msg: Box<ClientMsg>,
    },
    /// A client's probe datagram reaches a server.
    Probe {
        server: usize,
        client: usize,
    },
    /// A server's message reaches a client (`link: None`: a datagram).
    ToClient {
        client: usize,
        from: NodeId,
        link: Option<u64>,
        msg: Box<ServerMsg>,
    },
    /// A connection came up (the handshake finished) or went down, client side.
    LinkState {
        client: usize,
        link: u64,
        up: bool,
    },
    /// The client closed connection `link`; the server hears of it.
    LinkClosed {
        server: usize,
        life: u64,
        client: usize,
        link: u64,
    },
}

/// What a node hears about one of its peer connections.
#[derive(Clone, Copy, Debug)]
pub(super) enum LinkNews {
    /// The connection it dialled is up.
    Connected,
    /// A peer dialled in.
    Accepted,
    /// The connection failed or ended.
    Failed(LinkFailure),
}

/// One server: its node while it runs, and what outlives a crash.
pub(super) struct Slot {
    pub(super) id: NodeId,
    pub(super) config: Config,
    pub(super) node: Option<Node>,
    pub(super) up_since: Instant,
    pub(super) clock: NodeClock,
    pub(super) lives: u64,
    pub(super) tick_at: Option<Instant>,
    /// The deadline (local time) `tick_at` was worked out from, while it
    /// stands: the same deadline again cannot ask for an earlier tick, so the
    /// links' many reschedules skip the clock's conversion.
    pub(super) tick_for: Option<Instant>,
    /// The node's own next deadline (its local time), as it was after its
    /// last step: only a step changes it, and the links ask for it after
    /// every message they write.
    pub(super) node_deadline: Option<Instant>,
    /// The disk: the log and state, kept across crashes.
    pub(super) disk: Disk,
    /// Its machine crashed since it last started: what no sync made stable
    /// was lost (its commit index may come back lower).
    pub(super) lost_power: bool,
    /// Client connections this server holds: client -> (client index, link).
    pub(super) links: BTreeMap<ClientId, (usize, u64)>,
    /// Per client, the newest connection this server closed or saw replaced by a
    /// newer one. Like a TCP server, it reads nothing more from such a connection:
    /// a late message on it must not be taken for the client's current session.
    pub(super) retired: BTreeMap<ClientId, u64>,
    /// While the node is paused: when it carries on. What arrives for it until
    /// then waits in the queue.
    pub(super) paused_until: Option<Instant>,
    /// The node's peer links (the core's, as the runtime drives them), for this life.
    pub(super) peer_links: Option<Links>,
    /// False after its machine crashed: dials to it time out instead of being
    /// refused, and nothing it had open is reset.
    pub(super) machine_up: bool,
}

impl Slot {
    /// When this server next needs a tick, on its own clock: its node's
    /// deadline while it runs, or its links', whichever comes first.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let node = self.node.as_ref().and(self.node_deadline);
        let links = self.peer_links.as_ref().and_then(Links::next_deadline);
        match (node, links) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Every server, by index (node id - 1).
pub(super) struct Slots(pub(super) Vec<Slot>);

impl Observed for Slots {
    fn len(&self) -> usize {
        self.0.len()
    }
    // A paused node is, to the checkers, not there: it cannot act, and the others
    // are right to carry on without it.
    fn node(&self, i: usize) -> Option<&Node> {
        self.0
            .get(i)
            .filter(|s| s.paused_until.is_none())
            .and_then(|s| s.node.as_ref())
    }
    fn history(&self, i: usize) -> Option<&ringleader_core::log::Log> {
        self.node(i)?;
        self.0.get(i).map(|s| s.disk.written_log())
    }
    fn node_and_clock(&self, i: usize, at: Instant) -> Option<(&Node, Instant)> {
        let slot = self.0.get(i)?;
        Some((slot.node.as_ref()?, slot.clock.local(at)))
    }
    fn up_since(&self, i: usize) -> Option<Instant> {
        self.0
            .get(i)
            .filter(|s| s.node.is_some() && s.paused_until.is_none())
            .map(|s| s.up_since)
    }
}

/// What a run counts for its report.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) events: u64,
    pub(super) messages: u64,
    pub(super) sent: u64,
    pub(super) lost: u64,
    pub(super) cut: u64,
    pub(super) duplicated: u64,
    pub(super) to_down: u64,
    pub(super) faults: u64,
    /// Messages handed to the network (see `Item::Deliver::number`).
    pub(super) transmitted: u64,
}

/// One run in progress.
pub(super) struct World<'w> {
    pub(super) seed: u64,
    pub(super) end: Instant,
    pub(super) now: Instant,
    pub(super) slots: Slots,
    pub(super) queue: EventQueue<Item>,
    pub(super) net: Network,
    pub(super) rng: ChaCha8Rng,
    pub(super) tracer: Tracer<'w>,
    pub(super) checker: DiscoveryChecker,
    pub(super) election: ElectionChecker,
    pub(super) replication: ReplicationChecker,
    pub(super) counters: Counters,
    pub(super) actions: Vec<Action>,
    pub(super) clients: Vec<SimClient>,
    pub(super) client_actions: Vec<ClientAction>,
    pub(super) client_rng: ChaCha8Rng,
    /// Clients send until then.
    pub(super) send_until: Instant,
    /// Mean time between two messages of one client.
    pub(super) send_every: Option<Duration>,
    /// When the run last changed (a fault or start); liveness needs quiet after it.
    pub(super) last_disturbance: Instant,
    pub(super) drain_bound: Duration,
    /// A bug planted on purpose (see `bugs`); `None` in every real run.
    pub(super) bug: InjectedBug,
    /// Open peer connections, both ends: (node, life, conn) -> the other end.
    pub(super) conns: super::conns::Conns,
    /// Numbers for accepted connections.
    pub(super) next_accept: u64,
    pub(super) link_actions: Vec<LinkAction>,
    /// Set when the run stopped on a busy loop (see `run_loop`).
    pub(super) busy_loop: Option<crate::findings::Violation>,
    /// From when the cluster is idle: the last fault and client message are
    /// past, and everything they caused has settled.
    pub(super) idle_from: Instant,
    /// Per server: messages it sent (a multicast counts once) since `idle_from`.
    pub(super) idle_sent: Vec<u64>,
    /// Messages a second an idle node may send, from the configuration the run
    /// was given (a planted bug may bend a node's own).
    pub(super) idle_budget: f64,
    /// How long one disk sync takes.
    pub(super) disk_latency: Duration,
    /// What a server waits for before it counts a write durable.
    pub(super) durability: ringleader_core::durable::Durability,
    /// Committed entries a disk keeps before it compacts (see
    /// [`crate::SimConfig::retain`]).
    pub(super) retain: Option<u64>,
    /// A majority of the run's voters (`committed_on_majority`).
    pub(super) majority: usize,
    /// An application run on every node (see [`crate::app`]).
    pub(super) app: Option<Box<dyn crate::app::host::AppHost + 'w>>,
}
