//! Embedding a node in your own Rust service: leader election and a
//! replicated log behind a handle.
//!
//! [`NodeHandle::start`] runs a node — the same one `ringleader node` runs,
//! from the same [`NodeOptions`] — on the current tokio runtime and returns a
//! handle to it:
//!
//! - [`NodeHandle::leadership`] / [`NodeHandle::watch_leadership`]: who leads,
//!   in which epoch (the fencing token), and every change;
//! - [`NodeHandle::fence`]: whether this node leads *now* with the right to act
//!   alone — under `quorum`, until when its lease guarantees that no other
//!   node can be elected;
//! - [`NodeHandle::propose`]: append an entry to the replicated log; returns
//!   its index once committed, or why not ([`ProposeError`]);
//! - [`NodeHandle::committed`]: the committed history from any index, on every
//!   node, told when a `bully`/`ring` split brain rewrote it;
//! - [`NodeHandle::members`], [`NodeHandle::status`]: membership, and everything
//!   `ringleader status` shows;
//! - [`NodeHandle::shutdown`]: leave the cluster gracefully.
//!
//! ```no_run
//! use ringleader_runtime::embed::{CommittedEvent, NodeHandle};
//! use ringleader_runtime::NodeOptions;
//!
//! # async fn run(options: NodeOptions) -> Result<(), Box<dyn std::error::Error>> {
//! let node = NodeHandle::start(options).await?;
//! let mut leadership = node.watch_leadership();
//! // Wait until some node leads.
//! leadership.wait_for(|l| l.leader.is_some()).await?;
//! if node.leadership().is_leader() {
//!     let index = node.propose(b"deploy v42".to_vec()).await?;
//!     println!("committed at {index}");
//! }
//! let mut history = node.committed(1);
//! while let Some(event) = history.next().await {
//!     match event {
//!         CommittedEvent::Entry(e) => println!("{}: {:?}", e.index, e.payload),
//!         CommittedEvent::Rewritten { from } => println!("undo from {from}"),
//!         CommittedEvent::Snapshot(s) => println!("restore the state as of {}", s.index),
//!         CommittedEvent::Compacted { first } => println!("history starts at {first}"),
//!     }
//! #   break;
//! }
//! node.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod committed;
pub mod follow;
pub(crate) mod glue;

pub use committed::{CommitMark, Committed, CommittedEvent};
pub use follow::Follower;

use crate::driver::{NodeOptions, RuntimeError};
use crate::listener::Input;
use crate::status::Status;
use ringleader_core::app::AppSnapshot;
use ringleader_core::{Algorithm, NodeId, Role};
use std::fmt;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Who leads, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// This node.
    pub node: NodeId,
    /// This node's role.
    pub role: Role,
    /// The leader this node names, if any.
    pub leader: Option<NodeId>,
    /// The epoch of that leadership (the term under `quorum`): it only grows,
    /// so it fences what an earlier leader does (pass it along with every
    /// action taken as leader, and let the receiver refuse a lower one).
    pub epoch: u64,
    /// The election algorithm; only under `quorum` is a leadership exclusive
    /// (see [`NodeHandle::fence`]).
    pub algorithm: Algorithm,
}

impl Leadership {
    /// Whether this node names itself the leader. Under `quorum`, a node
    /// whose process stood still past its lease names itself until its next
    /// step; [`NodeHandle::fence`] tells for certain.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}

/// What a leader may rely on when it acts alone (a read served from its own
/// state, a job started): see [`NodeHandle::fence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The epoch this node leads (the fencing token).
    pub epoch: u64,
    /// The commit index when asked: a read that reflects every write
    /// committed before it waits until the application applied this far.
    pub commit: u64,
    /// Under `quorum`: until when no other node can lead (the lease), on this
    /// machine's clock. Act on it only before then. `None` under `bully` and
    /// `ring`, which promise no exclusivity.
    pub lease_until: Option<std::time::Instant>,
}

impl Fence {
    /// Whether the lease still holds now (always `false` without a lease).
    pub fn holds(&self) -> bool {
        self.lease_until
            .is_some_and(|until| std::time::Instant::now() < until)
    }
}

/// Why a proposal did not commit (or could not be made): the core's
/// [`ProposalError`](ringleader_core::ProposalError), whose `ShuttingDown`
/// the handle gives once the node has stopped.
pub use ringleader_core::ProposalError as ProposeError;

/// What the event loop hands the handle once the node has started.
pub(crate) struct Attach {
    pub(crate) inbox: mpsc::Sender<Input>,
    pub(crate) leadership: watch::Receiver<Leadership>,
    pub(crate) writer: committed::WriterLink,
}

/// A running node (see the [module docs](self)). Dropping it stops the node
/// too (gracefully, in the background); [`NodeHandle::shutdown`] waits for it.
pub struct NodeHandle {
    id: NodeId,
    inbox: mpsc::Sender<Input>,
    leadership: watch::Receiver<Leadership>,
    writer: committed::WriterLink,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RuntimeError>>,
}

impl fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeHandle")
            .field("id", &self.id)
            .field("leadership", &*self.leadership.borrow())
            .finish_non_exhaustive()
    }
}

impl NodeHandle {
    /// Starts a node on the current tokio runtime and returns once it has
    /// bound its sockets, opened its data directory and taken its first step;
    /// the error says why it could not (an address in use, a locked or
    /// damaged data directory, an invalid configuration).
    pub async fn start(options: NodeOptions) -> Result<NodeHandle, RuntimeError> {
        let id = options.id;
        let (stop, stopped) = oneshot::channel::<()>();
        let (attach_tx, attach) = oneshot::channel();
        let shutdown = async move {
            // Dropping the handle (and so the sender) stops the node too.
            let _ = stopped.await;
        };
        let task = tokio::spawn(crate::driver::run_embedded(options, shutdown, attach_tx));
        let Ok(parts) = attach.await else {
            // The node stopped before it started: its task says why.
            return Err(match task.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => RuntimeError::Stopped("the node stopped as it started".into()),
                Err(e) => RuntimeError::Stopped(format!("the node's task failed: {e}")),
            });
        };
        Ok(NodeHandle {
            id,
            inbox: parts.inbox,
            leadership: parts.leadership,
            writer: parts.writer,
            stop: Some(stop),
            task,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The leadership as this node sees it now.
    pub fn leadership(&self) -> Leadership {
        *self.leadership.borrow()
    }

    /// Every change of the leadership this node sees, as a watch (the latest
    /// value; intermediate ones may be skipped by a slow reader).
    pub fn watch_leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.clone()
    }

    /// Whether this node leads now and may act alone, with the fencing token
    /// and (under `quorum`) until when its lease holds. Ask again before each
    /// action; act only while [`Fence::holds`]. [`ProposeError::Syncing`]
    /// right after an election: until the leader's own epoch marker commits,
    /// its commit index may miss entries an earlier leader committed (see
    /// [`ringleader_core::Node::fenced_at`]). Under `bully` and `ring` a fence
    /// has no lease: two nodes may both believe they lead.
    pub async fn fence(&self) -> Result<Fence, ProposeError> {
        let (reply, answer) = oneshot::channel();
        self.inbox
            .send(Input::Fence(reply))
            .await
            .map_err(|_| ProposeError::ShuttingDown)?;
        answer.await.map_err(|_| ProposeError::ShuttingDown)?
    }

    /// Appends `payload` to the replicated log through this node, which must
    /// lead. Returns the entry's index once it is committed (held by a
    /// majority under `quorum`; by the live members under `bully`/`ring`), or
    /// why it is not. Proposals of one node commit in the order they were
    /// made. Entries are at most [`ringleader_core::wire::MAX_CHAT_BYTES`] bytes.
    /// A leader cut off from the others keeps the proposal until its fate is
    /// known (a new leader may still commit it), which can be long: wrap the
    /// call in a timeout where a caller waits.
    pub async fn propose(&self, payload: impl Into<Vec<u8>>) -> Result<u64, ProposeError> {
        propose(&self.inbox, payload.into()).await
    }

    /// The committed history from index `from` on (1: all of it still held),
    /// read from this node's disk as it commits. Entries carry the client's
    /// id and number ([`ringleader_core::log::Entry::id`]); a leader's epoch
    /// markers ([`ringleader_core::log::Entry::is_marker`]) and chat messages
    /// are in it too.
    pub fn committed(&self, from: u64) -> Committed {
        self.writer
            .committed(from, ringleader_core::log::Stamp::default())
    }

    /// Keeps the log's retention (`--retain`) from deleting any entry after
    /// `index`: the application saved its state as of `index` and needs what
    /// follows to catch up after a restart. [`Follower`] sets it as it saves
    /// its snapshots; without a call, retention is the node's alone.
    pub fn retain_after(&self, index: u64) {
        self.writer.retain_after(index);
    }

    /// The application saved `snapshot` of its state (see
    /// [`ringleader_core::app::AppSnapshot`]): retention keeps every entry
    /// after it ([`NodeHandle::retain_after`]), and while this node leads it
    /// sends the newest such snapshot, with its log's, to a follower too far
    /// behind the retained log, whose application then goes on from it
    /// ([`CommittedEvent::Snapshot`]). [`Follower`] calls it as it saves.
    pub async fn snapshot_saved(&self, snapshot: AppSnapshot) {
        share_snapshot(&self.writer, &self.inbox.downgrade(), snapshot).await;
    }

    /// A handle that proposes through this node, for other tasks (it can be
    /// cloned and sent; it does not keep the node running).
    pub fn proposer(&self) -> Proposer {
        Proposer {
            inbox: self.inbox.downgrade(),
        }
    }

    /// Everything `ringleader status` shows of this node, members included;
    /// `None` once it has stopped.
    pub async fn status(&self) -> Option<Status> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(Input::Status(reply)).await.ok()?;
        answer.await.ok()
    }

    /// The other members as this node sees them (id, address, state, last
    /// heard); `None` once it has stopped.
    pub async fn members(&self) -> Option<Vec<crate::status::MemberStatus>> {
        self.status().await.map(|s| s.members)
    }

    /// Leaves the cluster (the peers hear of it at once) and waits until the
    /// node has stopped and its writes are on disk.
    pub async fn shutdown(mut self) -> Result<(), RuntimeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(RuntimeError::Stopped(format!(
                "the node's task failed: {e}"
            ))),
        }
    }
}

/// Tells the writer and the node that the application saved `snapshot`.
async fn share_snapshot(
    writer: &committed::WriterLink,
    inbox: &mpsc::WeakSender<Input>,
    snapshot: AppSnapshot,
) {
    writer.retain_after(snapshot.index);
    if let Some(inbox) = inbox.upgrade() {
        // A node that stopped needs it no more.
        let _ = inbox.send(Input::AppSnapshot(Arc::new(snapshot))).await;
    }
}

async fn propose(inbox: &mpsc::Sender<Input>, payload: Vec<u8>) -> Result<u64, ProposeError> {
    let (reply, answer) = oneshot::channel();
    let payload = payload.into_boxed_slice();
    inbox
        .send(Input::Propose { payload, reply })
        .await
        .map_err(|_| ProposeError::ShuttingDown)?;
    answer.await.map_err(|_| ProposeError::ShuttingDown)?
}

/// Proposes through a node from any task (see [`NodeHandle::proposer`]).
#[derive(Clone, Debug)]
pub struct Proposer {
    inbox: mpsc::WeakSender<Input>,
}

impl Proposer {
    /// [`NodeHandle::propose`]; [`ProposeError::ShuttingDown`] once the node
    /// has stopped.
    pub async fn propose(&self, payload: impl Into<Vec<u8>>) -> Result<u64, ProposeError> {
        let inbox = self.inbox.upgrade().ok_or(ProposeError::ShuttingDown)?;
        propose(&inbox, payload.into()).await
    }
}
