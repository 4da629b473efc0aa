//! What an application is to the simulator: a leaf the host and the
//! builder share.

use ringleader_core::app::{Replica, StateMachine};
use ringleader_core::{Instant, NodeId, Role};

/// When an application gets to propose: its node leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposing {
    /// How many times this node's application got to, this one included.
    pub n: u64,
    /// The node.
    pub node: ringleader_core::NodeId,
    /// The epoch it leads (the fencing token).
    pub epoch: u64,
}

/// An application the simulator runs on every node.
pub trait SimApp: StateMachine + Default + 'static {
    /// What this node's application proposes when it gets to (while its node
    /// leads, every [`AppSim::propose_every`](super::AppSim::propose_every)); `None`: nothing this time.
    /// Deterministic: the same state and turn give the same proposal.
    fn proposal(&self, turn: &Proposing) -> Option<Vec<u8>>;

    /// What simulated client `client` (numbered from 1; see
    /// [`SimConfig::clients`](crate::SimConfig::clients)) writes as its message
    /// number `seq`, through the leader it follows
    /// ([`ClientMsg::Write`](ringleader_core::wire::ClientMsg::Write)):
    /// an entry of this application, deduplicated, resent across failovers
    /// and acknowledged as ringleader's client invariants check. `None`
    /// (the default): the client chats instead.
    fn client_write(client: u32, seq: u64) -> Option<Vec<u8>> {
        let _ = (client, seq);
        None
    }
}

/// A check of your own over every node's application, after every event:
/// `Err` says what is wrong.
pub type Invariant<S> = Box<dyn Fn(&AppView<'_, S>) -> Result<(), String>>;

/// A proposal the cluster acknowledged as committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// The node it was proposed through.
    pub node: NodeId,
    /// Its committed index.
    pub index: u64,
    /// What it said.
    pub payload: Vec<u8>,
    /// When it was acknowledged (virtual time).
    pub at: Instant,
}

/// One node's application, as your invariants see it.
pub struct AppNode<'a, S> {
    /// The node.
    pub id: NodeId,
    /// Its replica, while its process runs (`None`: down or paused).
    pub replica: Option<&'a Replica<S>>,
    /// Its role.
    pub role: Role,
    /// Whether it may act alone as leader now ([`Node::fenced_at`](ringleader_core::Node::fenced_at) on its own
    /// clock: under `quorum` its lease holds and its commit index is current).
    pub fenced: bool,
    /// The epoch it names.
    pub epoch: u64,
    /// Its commit index.
    pub commit: u64,
}

/// Every node's application after an event.
pub struct AppView<'a, S> {
    /// Virtual time.
    pub now: Instant,
    /// The nodes, by id.
    pub nodes: Vec<AppNode<'a, S>>,
    /// Every proposal acknowledged so far, in the order acknowledged.
    pub acked: &'a [Acked],
    /// Per simulated client (`clients_acked[0]` is client 1's): the highest
    /// message number it was told is committed. With
    /// [`SimApp::client_write`], its entries 1 ..= that number carry
    /// (client, number) as their [`Entry::id`](ringleader_core::log::Entry::id).
    pub clients_acked: &'a [u64],
}

impl<S: StateMachine + PartialEq> AppView<'_, S> {
    /// Replicas at the same place (`at`: the index applied, or the index and
    /// its stamp where a `bully`/`ring` history can be rewritten) hold the
    /// same state; `Err` names two that do not.
    pub fn agree_by<K: Ord>(&self, at: impl Fn(&Replica<S>) -> K) -> Result<(), String> {
        let mut seen = std::collections::BTreeMap::new();
        for node in &self.nodes {
            let Some(r) = node.replica else { continue };
            if let Some((other, state)) = seen.insert(at(r), (node.id, r.state())) {
                if state != r.state() {
                    return Err(format!(
                        "{other} and {} applied up to {} but hold different states",
                        node.id,
                        r.applied()
                    ));
                }
            }
        }
        Ok(())
    }
}
