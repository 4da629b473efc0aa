//! What `ringleader status` shows: a node's own account of itself.

use ringleader_core::{Node, Role};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Chat users a status answer names (it says how many more there are).
pub const STATUS_CLIENTS_MAX: usize = 200;
/// Role changes a status keeps.
pub const ROLE_HISTORY: usize = 20;

/// A member as the answering node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Its id.
    pub id: u32,
    /// Its TCP address.
    pub addr: String,
    /// `alive`, `suspect`, `dead` or `left`.
    pub state: String,
    /// Milliseconds since anything was heard from it.
    pub last_heard_ms: u64,
}

/// How the node's writes stand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskStatus {
    /// `process` or `power` (see `--durability`).
    pub durability: String,
    /// The highest log index on disk as the node holds it.
    pub durable_index: u64,
    /// Messages waiting for writes to become durable.
    pub held_messages: usize,
    /// True while the disk counts as stalled (the node plays dead).
    pub stalled: bool,
    /// Syncs done, their mean and longest time in µs.
    pub syncs: u64,
    /// Mean sync time, µs.
    pub sync_mean_us: u64,
    /// Longest sync, µs.
    pub sync_max_us: u64,
    /// Batches flushed and writes carried out (writes per flush: group commit).
    pub flushes: u64,
    /// Writes carried out.
    pub writes: u64,
}

impl DiskStatus {
    /// The disk's side of `node`'s status, with the writer's figures.
    pub fn of(node: &Node, durability: &str, stats: &crate::writer::DiskStats) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        DiskStatus {
            durability: durability.to_owned(),
            durable_index: node.durable_index(),
            held_messages: node.held_messages(),
            stalled: node.disk_stalled(),
            syncs: stats.syncs.load(Relaxed),
            sync_mean_us: stats.sync_mean_us(),
            sync_max_us: stats.sync_max_us.load(Relaxed),
            flushes: stats.flushes.load(Relaxed),
            writes: stats.writes.load(Relaxed),
        }
    }
}

/// What waits in the node's queues.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Events waiting for the node's event loop (frames read, links' news).
    pub inbox: u64,
    /// Writes and reads handed to the writer thread and not yet carried out.
    pub writer: u64,
    /// Bytes waiting to be written to peers' links.
    pub peer_bytes: u64,
    /// Bytes waiting to be written to chat clients.
    pub client_bytes: u64,
}

/// A change of the node's role, as the status keeps the recent ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// `leader`, `follower` or `candidate`.
    pub role: String,
    /// The leader named then.
    pub leader: Option<u32>,
    /// The epoch then.
    pub epoch: u64,
}

/// A node's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node's id.
    pub id: u32,
    /// Its TCP address (peers and clients).
    pub addr: String,
    /// The cluster's name.
    pub cluster: String,
    /// The election algorithm.
    pub election: String,
    /// `leader`, `follower` or `candidate`.
    pub role: String,
    /// The leader it names, if any.
    pub leader: Option<u32>,
    /// The epoch (term) of that leadership.
    pub epoch: u64,
    /// True while it leads and serves clients (a bully/ring leader syncs first).
    pub serving: bool,
    /// Under `quorum`, while it leads: milliseconds left of its lease (renewed
    /// every heartbeat; it steps down when it runs out).
    pub lease_left_ms: Option<u64>,
    /// Every member it knows of, itself excluded.
    pub members: Vec<MemberStatus>,
    /// The live members in ring order.
    pub ring: Vec<u32>,
    /// Its log: last index and commit index.
    pub last_index: u64,
    /// The first index its log holds: what comes before was compacted away
    /// by retention (1 when nothing was).
    #[serde(default)]
    pub log_start: u64,
    /// Highest committed index.
    pub commit_index: u64,
    /// A rolling digest (FNV-1a, hex) of the committed entries, every field and
    /// the payload: two nodes with the same committed history show the same one.
    pub commit_digest: String,
    /// Connected chat users (at the leader); the first [`STATUS_CLIENTS_MAX`].
    pub clients: Vec<String>,
    /// How many chat clients are connected (at the leader).
    #[serde(default)]
    pub client_count: usize,
    /// Start time, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Milliseconds since start.
    pub uptime_ms: u64,
    /// The node's writes.
    #[serde(default)]
    pub disk: DiskStatus,
    /// `quorum`: the latest term this node has seen (its vote's term; 0
    /// under bully and ring).
    #[serde(default)]
    pub term: u64,
    /// What waits in its queues.
    #[serde(default)]
    pub queues: QueueStatus,
    /// Its latest role changes, oldest first (at most [`ROLE_HISTORY`]).
    #[serde(default)]
    pub recent_roles: Vec<RoleRecord>,
    /// Where it serves its status page and metrics, if it does.
    #[serde(default)]
    pub http: Option<String>,
}

impl Status {
    /// Reads the status off a running node; `digest` is its committed
    /// history's rolling digest (see [`crate::logfile::CommitDigest`]).
    pub fn of(
        node: &Node,
        (cluster, election): (&str, &str),
        now: ringleader_core::Instant,
        (digest, disk): (u64, DiskStatus),
    ) -> Self {
        let lead = node.leadership();
        // A leader whose lease ran out (a paused process not stepped since)
        // is not one, whatever its last step said.
        let leads = node.leads_at(now);
        let info = node.info();
        let started = info.incarnation.started_at;
        let clients = node.clients();
        Status {
            id: node.id().0,
            addr: info.addr.to_string(),
            cluster: cluster.to_owned(),
            election: election.to_owned(),
            role: match lead.role {
                Role::Leader if leads => "leader",
                Role::Leader | Role::Follower => "follower",
                Role::Candidate => "candidate",
            }
            .to_owned(),
            leader: lead
                .leader
                .filter(|_| leads || lead.role != Role::Leader)
                .map(|l| l.0),
            epoch: lead.epoch,
            serving: leads && node.serving(),
            lease_left_ms: node
                .lease_end()
                .map(|end| end.saturating_since(now).as_millis() as u64),
            members: node
                .members()
                .iter()
                .map(|m| MemberStatus {
                    id: m.info.id.0,
                    addr: m.info.addr.to_string(),
                    state: m.state.to_string(),
                    last_heard_ms: now.as_millis().saturating_sub(m.last_heard.as_millis()),
                })
                .collect(),
            ring: node.ring().order().map(|n| n.0).collect(),
            last_index: node.log().last_index(),
            log_start: node.log().start(),
            commit_index: node.log().commit_index(),
            commit_digest: format!("{digest:016x}"),
            client_count: clients.len(),
            clients: clients
                .into_iter()
                .map(|(_, u)| u)
                .take(STATUS_CLIENTS_MAX)
                .collect(),
            started_at_ms: started.as_millis(),
            uptime_ms: now.as_millis().saturating_sub(started.as_millis()),
            disk,
            term: node.persisted().term,
            queues: QueueStatus::default(),
            recent_roles: Vec::new(),
            http: None,
        }
    }
}

impl Status {
    fn fmt_members_and_clients(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "members:")?;
        if self.members.is_empty() {
            writeln!(f, "  (none heard of)")?;
        }
        for m in &self.members {
            writeln!(
                f,
                "  n{:<4} {:<21} {:<8} last heard {} ago",
                m.id,
                m.addr,
                m.state,
                crate::human::duration_ms(m.last_heard_ms)
            )?;
        }
        if self.client_count > self.clients.len() {
            writeln!(
                f,
                "clients: {} ({} more)",
                self.clients.join(", "),
                self.client_count - self.clients.len()
            )?;
        } else if self.clients.is_empty() {
            writeln!(f, "clients: none")?;
        } else {
            writeln!(f, "clients: {}", self.clients.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leader = self
            .leader
            .map_or_else(|| "none".to_owned(), |l| format!("n{l}"));
        writeln!(
            f,
            "n{} at {} (cluster {}, {}): {}, leader {leader}, epoch {}{}",
            self.id,
            self.addr,
            self.cluster,
            self.election,
            self.role,
            self.epoch,
            if self.serving { ", serving" } else { "" }
        )?;
        writeln!(
            f,
            "log: {} entries{}, {} committed (digest {})",
            self.last_index,
            if self.log_start > 1 {
                format!(" (kept from #{})", self.log_start)
            } else {
                String::new()
            },
            self.commit_index,
            self.commit_digest
        )?;
        let d = &self.disk;
        writeln!(
            f,
            "disk: {} durability, durable to {}, {} held{}; {} syncs (mean {} µs, max {} µs), {} writes in {} flushes",
            d.durability,
            d.durable_index,
            d.held_messages,
            if d.stalled { ", STALLED" } else { "" },
            d.syncs,
            d.sync_mean_us,
            d.sync_max_us,
            d.writes,
            d.flushes
        )?;
        let ring: Vec<String> = self.ring.iter().map(|n| format!("n{n}")).collect();
        writeln!(f, "ring: {}", ring.join(" -> "))?;
        self.fmt_members_and_clients(f)?;
        if let Some(last) = self.recent_roles.last() {
            writeln!(
                f,
                "last role change: {} at {} ({} role changes kept; the page shows them)",
                last.role,
                crate::human::local_time(last.at_ms),
                self.recent_roles.len()
            )?;
        }
        if let Some(url) = &self.http {
            writeln!(f, "status page: {url} (metrics at {url}metrics)")?;
        }
        write!(
            f,
            "up {} (since {})",
            crate::human::duration_ms(self.uptime_ms),
            crate::human::local_time(self.started_at_ms)
        )
    }
}
