//! What a node counts for a monitoring system (`GET /metrics`, Prometheus /
//! OpenMetrics text, encoded by `prometheus-client`).
//!
//! Counters that must see every event (frames and bytes on each kind of link,
//! elections, leader changes, sync times) are bumped where the event happens;
//! everything a [`Status`] already says (role, epoch, members, log indexes,
//! queues) is copied into gauges when a scrape asks, so a node nobody scrapes
//! pays nothing for them.

use crate::status::Status;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Frames and bytes one way on one kind of link.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    frames: Counter,
    bytes: Counter,
}

impl Flow {
    /// `frames` frames of `bytes` bytes in all went by.
    pub fn add(&self, frames: u64, bytes: u64) {
        self.frames.inc_by(frames);
        self.bytes.inc_by(bytes);
    }
}

/// The node's traffic, by kind of link and direction.
#[derive(Clone, Debug, Default)]
pub struct Traffic {
    /// Frames read from peers' links.
    pub peer_in: Flow,
    /// Frames written to peers' links.
    pub peer_out: Flow,
    /// Frames read from chat clients.
    pub client_in: Flow,
    /// Frames written to chat clients.
    pub client_out: Flow,
    /// Datagrams received (multicast and unicast).
    pub datagram_in: Flow,
    /// Datagrams sent.
    pub datagram_out: Flow,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabels {
    link: &'static str,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

/// The states a member can be in, as [`Status`] names them.
const MEMBER_STATES: [&str; 4] = ["alive", "suspect", "dead", "left"];
/// The roles a node can have, as [`Status`] names them.
const ROLES: [&str; 3] = ["leader", "follower", "candidate"];

/// Gauges read off a [`Status`] at each scrape.
#[derive(Debug, Default)]
struct FromStatus {
    role: Family<RoleLabels, Gauge>,
    serving: Gauge,
    leader: Gauge,
    epoch: Gauge,
    term: Gauge,
    members: Family<StateLabels, Gauge>,
    last_index: Gauge,
    log_start: Gauge,
    commit_index: Gauge,
    durable_index: Gauge,
    clients: Gauge,
    held: Gauge,
    stalled: Gauge,
    queue: Family<QueueLabels, Gauge>,
    uptime: Gauge,
    /// Committed entries counted so far: the counter grows by what the
    /// commit index gained since the last scrape.
    committed: Counter,
    committed_seen: AtomicU64,
}

/// A node's metrics: shared by its event loop, its connections, its writer
/// and its HTTP server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Frames and bytes in and out.
    pub traffic: Traffic,
    /// Elections this node stood in (it became a candidate).
    pub elections: Counter,
    /// Changes of the leader this node names (including to none).
    pub leader_changes: Counter,
    /// Time of each `fdatasync` of the log (power durability), seconds.
    pub fsync: Histogram,
    status: FromStatus,
}

impl Metrics {
    /// Every metric at zero, registered under the `ringleader_` prefix.
    pub fn new() -> Arc<Metrics> {
        let mut r = Registry::with_prefix("ringleader");
        let traffic = registered_traffic(&mut r);
        let status = FromStatus::default();
        let (elections, leader_changes) = (Counter::default(), Counter::default());
        // 50 µs to 1.6 s: a fast NVMe sync to a disk about to count as stalled.
        let fsync = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        r.register(
            "elections",
            "Elections this node stood in",
            elections.clone(),
        );
        r.register(
            "leader_changes",
            "Changes of the leader this node names",
            leader_changes.clone(),
        );
        r.register_with_unit(
            "fsync",
            "Time of each fdatasync of the log",
            Unit::Seconds,
            fsync.clone(),
        );
        register_status(&mut r, &status);
        Arc::new(Metrics {
            registry: r,
            traffic,
            elections,
            leader_changes,
            fsync,
            status,
        })
    }

    /// The text a scrape gets, with the gauges read off `status`.
    pub fn encode(&self, status: &Status) -> String {
        self.status.update(status);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!("metrics not encoded: {e}");
        }
        out
    }
}

/// The traffic counters, registered as two families (frames, bytes) labelled
/// by link and direction: each flow holds handles on the family's counters.
fn registered_traffic(r: &mut Registry) -> Traffic {
    let frames = Family::<LinkLabels, Counter>::default();
    let bytes = Family::<LinkLabels, Counter>::default();
    let flow = |link, direction| {
        let labels = LinkLabels { link, direction };
        Flow {
            frames: frames.get_or_create(&labels).clone(),
            bytes: bytes.get_or_create(&labels).clone(),
        }
    };
    let traffic = Traffic {
        peer_in: flow("peer", "in"),
        peer_out: flow("peer", "out"),
        client_in: flow("client", "in"),
        client_out: flow("client", "out"),
        datagram_in: flow("datagram", "in"),
        datagram_out: flow("datagram", "out"),
    };
    r.register(
        "frames",
        "Frames (or datagrams) by link and direction",
        frames,
    );
    r.register_with_unit("traffic", "Bytes by link and direction", Unit::Bytes, bytes);
    traffic
}

fn register_status(r: &mut Registry, s: &FromStatus) {
    let gauges: [(&str, &str, &Gauge); 12] = [
        (
            "serving",
            "1 while this node leads and serves clients",
            &s.serving,
        ),
        ("leader", "The leader this node names (0: none)", &s.leader),
        ("epoch", "The epoch of the leadership it names", &s.epoch),
        (
            "term",
            "quorum: the latest term this node has seen",
            &s.term,
        ),
        ("log_last_index", "The last index of its log", &s.last_index),
        (
            "log_start_index",
            "The first index its log keeps",
            &s.log_start,
        ),
        (
            "commit_index",
            "Its highest committed index",
            &s.commit_index,
        ),
        (
            "durable_index",
            "The highest index on its disk",
            &s.durable_index,
        ),
        ("client_sessions", "Chat clients connected", &s.clients),
        ("held_messages", "Messages waiting for the disk", &s.held),
        (
            "disk_stalled",
            "1 while the disk counts as stalled",
            &s.stalled,
        ),
        (
            "uptime_seconds",
            "Seconds since this node started",
            &s.uptime,
        ),
    ];
    for (name, help, gauge) in gauges {
        r.register(name, help, gauge.clone());
    }
    r.register("role", "1 for the role this node has", s.role.clone());
    r.register("members", "Members known, by state", s.members.clone());
    r.register(
        "queue_depth",
        "What waits in the node's queues",
        s.queue.clone(),
    );
    r.register(
        "committed_entries",
        "Entries this node saw committed since it started",
        s.committed.clone(),
    );
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl FromStatus {
    fn update(&self, st: &Status) {
        for role in ROLES {
            let on = i64::from(st.role == role);
            self.role.get_or_create(&RoleLabels { role }).set(on);
        }
        self.serving.set(i64::from(st.serving));
        self.leader.set(i64::from(st.leader.unwrap_or(0)));
        self.epoch.set(gauge(st.epoch));
        self.term.set(gauge(st.term));
        for state in MEMBER_STATES {
            let n = st.members.iter().filter(|m| m.state == state).count();
            let n = gauge(n as u64);
            self.members.get_or_create(&StateLabels { state }).set(n);
        }
        self.last_index.set(gauge(st.last_index));
        self.log_start.set(gauge(st.log_start));
        self.commit_index.set(gauge(st.commit_index));
        self.durable_index.set(gauge(st.disk.durable_index));
        self.clients.set(gauge(st.client_count as u64));
        self.held.set(gauge(st.disk.held_messages as u64));
        self.stalled.set(i64::from(st.disk.stalled));
        self.uptime.set(gauge(st.uptime_ms / 1000));
        let q = &st.queues;
        let depths = [
            ("inbox", q.inbox),
            ("writer", q.writer),
            ("peer_bytes", q.peer_bytes),
            ("client_bytes", q.client_bytes),
        ];
        for (queue, depth) in depths {
            self.queue
                .get_or_create(&QueueLabels { queue })
                .set(gauge(depth));
        }
        let seen = self
            .committed_seen
            .fetch_max(st.commit_index, Ordering::Relaxed);
        self.committed.inc_by(st.commit_index.saturating_sub(seen));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{MemberStatus, Status};

    fn status(role: &str, commit: u64) -> Status {
        let member = |id, state: &str| MemberStatus {
            id,
            addr: format!("127.0.0.1:{}", 7100 + id),
            state: state.to_owned(),
            last_heard_ms: 5,
        };
        Status {
            id: 1,
            addr: "127.0.0.1:7101".into(),
            cluster: "c".into(),
            election: "quorum".into(),
            role: role.into(),
            leader: Some(1),
            epoch: 4,
            serving: true,
            lease_left_ms: None,
            members: vec![member(2, "alive"), member(3, "dead")],
            ring: vec![1, 2],
            last_index: commit + 2,
            log_start: 1,
            commit_index: commit,
            commit_digest: "0".into(),
            clients: Vec::new(),
            client_count: 3,
            started_at_ms: 0,
            uptime_ms: 61_000,
            disk: crate::status::DiskStatus::default(),
            term: 4,
            queues: crate::status::QueueStatus::default(),
            recent_roles: Vec::new(),
            http: None,
        }
    }

    #[test]
    fn a_scrape_reads_the_status_and_counts_commits_once() {
        let m = Metrics::new();
        m.traffic.peer_in.add(3, 300);
        m.elections.inc();
        let text = m.encode(&status("leader", 10));
        for line in [
            "ringleader_role{role=\"leader\"} 1",
            "ringleader_role{role=\"follower\"} 0",
            "ringleader_members{state=\"alive\"} 1",
            "ringleader_members{state=\"dead\"} 1",
            "ringleader_frames_total{link=\"peer\",direction=\"in\"} 3",
            "ringleader_traffic_bytes_total{link=\"peer\",direction=\"in\"} 300",
            "ringleader_elections_total 1",
            "ringleader_client_sessions 3",
            "ringleader_committed_entries_total 10",
            "ringleader_uptime_seconds 61",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.trim_end().ends_with("# EOF"));
        // Scraped again after 5 more commits: the counter grew by 5, not 15.
        let text = m.encode(&status("follower", 15));
        assert!(
            text.contains("ringleader_committed_entries_total 15"),
            "{text}"
        );
        assert!(
            text.contains("ringleader_role{role=\"follower\"} 1"),
            "{text}"
        );
    }
}
