//! A lockstep network of whole nodes for unit tests: zero latency, every message
//! delivered in order, time advanced in 1 ms steps. Tests talk to a node as a
//! client through `Event::FromClient`.

use crate::log::Log;
use crate::wire::{ClientId, ClientMsg, Message, ServerMsg};
use crate::{Action, Algorithm, Config, Event, Instant, Node, NodeId, Persisted};
use std::collections::VecDeque;
use std::time::Duration;

pub(crate) struct Net {
    pub nodes: Vec<Option<Node>>,
    pub queue: VecDeque<(usize, Message)>,
    pub now: Instant,
    /// Every action every node emitted, in order.
    pub log: Vec<(NodeId, Action)>,
    /// Per node: cut off from every other (what it sends and what is sent to it is lost).
    pub cut: Vec<bool>,
    /// Per node: a paused process, given no tick and no message (those are lost).
    pub frozen: Vec<bool>,
    /// Per node: a hung disk, which never reports writes durable; the highest
    /// token it holds back.
    pub disk_stuck: Vec<Option<u64>>,
    /// Per node: what its disk holds (every write applied), which answers its
    /// reads of entries older than its memory window.
    pub disks: Vec<Log>,
    /// Messages this says are lost, given the receiver's index (a test's
    /// fault of its own).
    pub lose: Option<fn(usize, &Message) -> bool>,
}

/// Node `id` of an `n`-node cluster running `algorithm`, every node a voter.
pub(crate) fn config(id: u32, algorithm: Algorithm, n: u32) -> Config {
    Config {
        addr: format!("10.0.0.{id}:7000").parse().unwrap(),
        election: algorithm,
        voters: (1..=n).map(NodeId).collect(),
        ..Config::default()
    }
}

impl Net {
    /// `n` fresh nodes, started.
    pub fn new(algorithm: Algorithm, n: u32) -> Net {
        let mut net = Net::with_logs(algorithm, (0..n).map(|_| Log::default()).collect(), 100);
        net.start_all();
        net
    }

    /// One node per log, restored with it, not started yet.
    pub fn with_logs(algorithm: Algorithm, logs: Vec<Log>, chunk: usize) -> Net {
        Net::with_window(
            algorithm,
            logs,
            chunk,
            Config::default().log_memory,
            crate::log::KEEP_MIN,
        )
    }

    /// [`Net::with_logs`] with nodes that keep `memory` bytes (but `keep`
    /// entries at least) of their logs in memory.
    pub fn with_window(
        algorithm: Algorithm,
        logs: Vec<Log>,
        chunk: usize,
        memory: usize,
        keep: usize,
    ) -> Net {
        let n = logs.len() as u32;
        let mut net = Net {
            nodes: Vec::new(),
            queue: VecDeque::new(),
            now: Instant::ZERO,
            log: Vec::new(),
            cut: vec![false; n as usize],
            frozen: vec![false; n as usize],
            disk_stuck: vec![None; n as usize],
            disks: logs.clone(),
            lose: None,
        };
        for (i, log) in logs.into_iter().enumerate() {
            let id = i as u32 + 1;
            let cfg = Config {
                sync_chunk: chunk,
                log_memory: memory,
                log_keep: keep,
                ..config(id, algorithm, n)
            };
            let p = Persisted::default();
            let node =
                Node::restore_with_log(cfg, NodeId(id), u64::from(id), Instant::ZERO, p, log)
                    .unwrap();
            net.nodes.push(Some(node));
        }
        net
    }

    /// `n` fresh nodes given 3 s to elect: the net and its leader.
    pub fn settled(algorithm: Algorithm, n: u32) -> (Net, u32) {
        let mut net = Net::new(algorithm, n);
        net.run_for(3000);
        let leader = net.leader();
        (net, leader)
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.step(i, Event::Start);
        }
    }

    pub fn step(&mut self, i: usize, event: Event) {
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        let id = node.id();
        let mut wrote = None;
        let mut reads = Vec::new();
        for action in node.step(self.now, event) {
            match &action {
                Action::WriteLog { write, .. } => {
                    let fits = self.disks[i].apply(write).is_ok();
                    assert!(fits, "n{} wrote a misfit", i + 1);
                }
                Action::ReadLog { from, max } => {
                    let entries = self.disks[i].entries_from(*from, *max).to_vec();
                    reads.push(Event::LogRead {
                        from: *from,
                        entries,
                    });
                }
                _ => {}
            }
            if let Action::Persist { token, .. } | Action::WriteLog { token, .. } = &action {
                wrote = Some(*token);
            }
            let lost = |j: usize| self.cut[i] || self.cut.get(j).copied().unwrap_or(false);
            let lose = self.lose;
            match &action {
                // Hostile messages name nodes that are not in the net: lost.
                Action::Send { to, msg } => match (to.0 as usize).checked_sub(1) {
                    Some(j)
                        if j < self.nodes.len() && !lost(j) && !lose.is_some_and(|f| f(j, msg)) =>
                    {
                        self.queue.push_back((j, msg.clone()));
                    }
                    _ => {}
                },
                Action::Multicast(msg) => {
                    for j in (0..self.nodes.len()).filter(|&j| j != i && !lost(j)) {
                        self.queue.push_back((j, msg.clone()));
                    }
                }
                _ => {}
            }
            self.log.push((id, action));
        }
        // The disk: every write durable at once, unless it hangs.
        match (wrote, self.disk_stuck[i].as_mut()) {
            (Some(token), Some(stuck)) => *stuck = token,
            (Some(token), None) => self.step(i, Event::Durable { token }),
            (None, _) => {}
        }
        for read in reads {
            self.step(i, read);
        }
    }

    /// Node `i`'s disk hangs: no write becomes durable until [`Net::unstick`].
    pub fn stick_disk(&mut self, i: usize) {
        self.disk_stuck[i] = Some(0);
    }

    /// Node `i`'s disk works again: what it held back becomes durable.
    pub fn unstick(&mut self, i: usize) {
        if let Some(token) = self.disk_stuck[i].take().filter(|t| *t > 0) {
            self.step(i, Event::Durable { token });
        }
    }

    pub fn run_for(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while self.now < end {
            while let Some((to, msg)) = self.queue.pop_front() {
                if !self.frozen[to] {
                    self.step(to, Event::Received(msg));
                }
            }
            for i in 0..self.nodes.len() {
                let due = !self.frozen[i]
                    && self.nodes[i]
                        .as_ref()
                        .and_then(Node::next_deadline)
                        .is_some_and(|d| d <= self.now);
                if due {
                    self.step(i, Event::Tick);
                }
            }
            self.now = self.now + Duration::from_millis(1);
        }
    }

    pub fn crash(&mut self, id: u32) {
        self.nodes[id as usize - 1] = None;
    }

    /// Every live node's leader.
    pub fn leaders(&self) -> Vec<Option<u32>> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.leadership().leader.map(|l| l.0))
            .collect()
    }

    pub fn node(&self, id: u32) -> &Node {
        self.nodes[id as usize - 1].as_ref().unwrap()
    }

    /// The leader n1 names.
    pub fn leader(&self) -> u32 {
        self.node(1).leadership().leader.expect("a leader").0
    }

    /// Every message sent to a peer: (from, to, message).
    pub fn sent(&self) -> Vec<(&NodeId, &NodeId, &Message)> {
        self.log
            .iter()
            .filter_map(|(from, a)| match a {
                Action::Send { to, msg } => Some((from, to, msg)),
                _ => None,
            })
            .collect()
    }

    /// Every message sent to a client: (server, client, message).
    pub fn to_clients(&self) -> Vec<(&NodeId, &ClientId, &ServerMsg)> {
        self.log
            .iter()
            .filter_map(|(from, a)| match a {
                Action::ToClient { client, msg } => Some((from, client, &**msg)),
                _ => None,
            })
            .collect()
    }

    /// Client `client` sends `msg` to node `at`.
    /// Node `i`'s driver compacts its disk through `index` (committed) and
    /// tells the node: the snapshot the entries amount to.
    pub fn compact(&mut self, i: usize, index: u64) {
        let snapshot = self.disks[i].snapshot_through(index, 7).unwrap();
        assert!(self.disks[i].compact(snapshot.clone()));
        self.step(i, Event::LogCompacted { snapshot });
    }

    pub fn client(&mut self, at: u32, client: u64, msg: ClientMsg) {
        let event = Event::FromClient {
            client: ClientId(client),
            msg,
        };
        self.step(at as usize - 1, event);
    }

    pub fn hello(&mut self, at: u32, client: u64, user: &str) {
        let msg = ClientMsg::Hello {
            user: user.into(),
            from_index: 1,
            resume: false,
            seen: Vec::new(),
        };
        self.client(at, client, msg);
    }

    pub fn chat(&mut self, at: u32, client: u64, seq: u64) {
        let text = format!("hello {seq}").into_bytes();
        self.client(at, client, ClientMsg::Chat { seq, text });
    }
}

/// Steps `node` and reports its writes durable at once, as a driver with an
/// instant disk would: the outputs of both steps.
pub(crate) fn step_durably(node: &mut Node, now: Instant, event: Event) -> Vec<Action> {
    let mut out = node.step(now, event);
    let written = out.iter().rev().find_map(|a| match a {
        Action::Persist { token, .. } | Action::WriteLog { token, .. } => Some(*token),
        _ => None,
    });
    if let Some(token) = written {
        out.extend(node.step(now, Event::Durable { token }));
    }
    out
}
