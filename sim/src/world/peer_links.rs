//! Peer connections, modelled: each node's links are the core's sans-IO
//! [`Links`] (the very code the runtime drives); this module plays the network
//! and the operating system under them.
//!
//! - One connection per direction, as the core's links want it: a node writes
//!   only on connections it dialled; the peer's end of one is read only, and
//!   only there to be reset when the peer's process ends.
//! - A dial reaches a peer that is up (paused or not: the kernel accepts) over a
//!   path that works both ways: the peer hears of the connection after one delay,
//!   the dialler after a round trip. A peer whose process is gone on a machine
//!   that is up refuses (after a round trip); a machine that is down, or a cut
//!   path, lets the dial time out after [`CONNECT_TIMEOUT`].
//! - A message written on a connection travels like any other (delay, loss,
//!   duplication, a cut path) but only reaches the life of the peer the
//!   connection was made with. Written to a peer whose process is gone, it is
//!   answered by a reset if the machine is up, by silence if it is not.
//! - A process that ends (killed, restarted, leaving) resets its connections: the
//!   peers hear of it after one delay, where the path lets them. A machine that
//!   crashes resets nothing: its peers' connections hang, half open.

use super::conns::ConnEnd;
use super::state::{Item, LinkNews, World};
use crate::trace::DropReason;
use ringleader_core::link::{LinkAction, LinkFailure};
use ringleader_core::wire::Message;
use ringleader_core::{Event, Incarnation, NodeId};
use std::time::Duration;

/// How long a dial waits for an answer that never comes.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Marks the number of a connection a node accepted, so it never meets the
/// numbers its links give the connections it dials.
const ACCEPTED: u64 = 1 << 63;

fn id(i: usize) -> NodeId {
    NodeId(i as u32 + 1)
}

fn index(n: NodeId) -> usize {
    (n.0 as usize).wrapping_sub(1)
}

impl World<'_> {
    fn life(&self, i: usize) -> u64 {
        self.slots.0.get(i).map_or(0, |s| s.lives)
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.net.is_up(a, b) && self.net.is_up(b, a)
    }

    /// Node `i` sends `msg` to peer `j` over its link.
    pub(super) fn link_send(&mut self, i: usize, j: usize, msg: Message) {
        let up = self.slots.0.get(i).and_then(|s| s.peer_links.as_ref());
        if let Some(conn) = up.and_then(|links| links.up(id(j))) {
            // What `send` does on an open connection, without its action list
            // (nor a reschedule: nothing of the links changed, and the step
            // that sent reschedules its node once it is done).
            return self.write(i, j, conn, msg);
        }
        self.with_links(i, |links, local, out| links.send(local, id(j), msg, out));
    }

    /// Node `i` heard from peer `j`, in its life `life` (by any way). The
    /// step that takes the message in reschedules the node.
    pub(super) fn link_heard(&mut self, i: usize, j: usize, life: Incarnation) {
        self.with_links(i, |links, local, out| {
            links.heard_from(local, id(j), life, out)
        });
    }

    /// Node `i`'s links' timers.
    pub(super) fn link_tick(&mut self, i: usize) {
        self.with_links(i, |links, local, out| links.tick(local, out));
        self.reschedule(i);
    }

    /// News of a connection reaches node `i` in life `life`.
    #[inline(never)]
    pub(super) fn on_link_news(
        &mut self,
        i: usize,
        life: u64,
        j: usize,
        conn: u64,
        news: LinkNews,
    ) {
        self.counters.events += 1;
        if self.life(i) != life || self.slots.0.get(i).is_none_or(|s| s.node.is_none()) {
            return; // that life is over
        }
        let what = match news {
            LinkNews::Connected => "up",
            LinkNews::Accepted => "accepted",
            LinkNews::Failed(LinkFailure::Refused) => "refused",
            LinkNews::Failed(LinkFailure::TimedOut) => "timed out",
            LinkNews::Failed(LinkFailure::Reset) => "reset",
            LinkNews::Failed(LinkFailure::Stalled) => "stalled",
        };
        self.tracer.link(self.now, id(i), id(j), what);
        if let LinkNews::Failed(_) = news {
            self.drop_conn(i, j, life, conn);
            // What waited for this connection never went: the network's doing.
            self.checker.on_drop(self.now, i, j);
        }
        if conn & ACCEPTED != 0 {
            return; // a peer's read-only connection: nothing for the links
        }
        self.with_links(i, |links, local, out| match news {
            LinkNews::Connected => links.connected(local, id(j), conn, out),
            LinkNews::Accepted => {}
            LinkNews::Failed(why) => links.failed(local, id(j), conn, why, out),
        });
        self.reschedule(i);
    }

    /// Runs `f` on node `i`'s links at its local time, then carries out what
    /// they ask for. The caller reschedules the node (a step does once it is
    /// done): the links' deadline may have moved.
    fn with_links(
        &mut self,
        i: usize,
        f: impl FnOnce(
            &mut ringleader_core::link::Links,
            ringleader_core::Instant,
            &mut Vec<LinkAction>,
        ),
    ) {
        if let Some(slot) = self.slots.0.get_mut(i) {
            let local = slot.clock.local(self.now);
            if let Some(links) = slot.peer_links.as_mut() {
                f(links, local, &mut self.link_actions);
            }
        }
        if self.link_actions.is_empty() {
            // The common case (a peer heard from on an open connection): the
            // buffer is neither taken nor put back.
            return;
        }
        let mut out = std::mem::take(&mut self.link_actions);
        let mut gone = Vec::new();
        for action in out.drain(..) {
            match action {
                LinkAction::Dial { peer, conn } => self.dial(i, index(peer), conn),
                LinkAction::Write { peer, conn, msg } => self.write(i, index(peer), conn, msg),
                LinkAction::Close { peer, conn } => self.close(i, index(peer), conn),
                LinkAction::ProcessGone { peer, life } => gone.push((peer, life)),
            }
        }
        self.link_actions = out;
        for (peer, life) in gone {
            self.tracer
                .link(self.now, id(i), peer, "ended and refused: process gone");
            self.step(i, Event::PeerGone { peer, life });
        }
    }

    fn news_at(
        &mut self,
        delay: Duration,
        to: usize,
        life: u64,
        peer: usize,
        conn: u64,
        news: LinkNews,
    ) {
        let item = Item::Link {
            node: to,
            life,
            peer,
            conn,
            news,
        };
        self.queue.push(self.now + delay, item);
    }

    fn dial(&mut self, i: usize, j: usize, conn: u64) {
        let life_i = self.life(i);
        self.tracer.link(self.now, id(i), id(j), "dial");
        let up = self.slots.0.get(j).is_some_and(|s| s.node.is_some());
        let machine_up = self.slots.0.get(j).is_some_and(|s| s.machine_up);
        let there = self.net.delay(&mut self.rng);
        let back = self.net.delay(&mut self.rng);
        if !self.reachable(i, j) || !machine_up {
            self.checker.on_drop(self.now, i, j);
            return self.news_at(
                CONNECT_TIMEOUT,
                i,
                life_i,
                j,
                conn,
                LinkNews::Failed(LinkFailure::TimedOut),
            );
        }
        if !up {
            return self.news_at(
                there + back,
                i,
                life_i,
                j,
                conn,
                LinkNews::Failed(LinkFailure::Refused),
            );
        }
        let life_j = self.life(j);
        self.next_accept += 1;
        let accepted = ACCEPTED | self.next_accept;
        self.conns.insert(
            i,
            life_i,
            conn,
            ConnEnd {
                peer: j,
                peer_life: life_j,
                peer_conn: accepted,
            },
        );
        self.conns.insert(
            j,
            life_j,
            accepted,
            ConnEnd {
                peer: i,
                peer_life: life_i,
                peer_conn: conn,
            },
        );
        self.news_at(there, j, life_j, i, accepted, LinkNews::Accepted);
        self.news_at(there + back, i, life_i, j, conn, LinkNews::Connected);
    }

    fn write(&mut self, i: usize, j: usize, conn: u64, msg: Message) {
        self.counters.sent += 1;
        let life_i = self.life(i);
        let Some(end) = self.conns.get(i, j, life_i, conn) else {
            return self.dropped(i, j, &msg, DropReason::Down);
        };
        let peer_gone =
            self.life(j) != end.peer_life || self.slots.0.get(j).is_none_or(|s| s.node.is_none());
        if peer_gone {
            let machine_up = self.slots.0.get(j).is_some_and(|s| s.machine_up);
            if machine_up && self.reachable(i, j) {
                // The peer's kernel answers a dead connection with a reset.
                self.drop_conn(i, j, life_i, conn);
                let delay = self.net.delay(&mut self.rng) * 2;
                self.news_at(
                    delay,
                    i,
                    life_i,
                    j,
                    conn,
                    LinkNews::Failed(LinkFailure::Reset),
                );
            }
            return self.dropped(i, j, &msg, DropReason::Down);
        }
        self.transmit(i, j, msg, Some(end.peer_life));
    }

    /// Node `i` closes connection `conn` to peer `j`: the peer hears of it
    /// where the path lets it.
    fn close(&mut self, i: usize, j: usize, conn: u64) {
        let life_i = self.life(i);
        if let Some(end) = self.drop_conn(i, j, life_i, conn) {
            self.reset_peer(i, end);
        }
    }

    /// Forgets both ends of node `i`'s connection `conn` to peer `j`;
    /// returns the other end.
    fn drop_conn(&mut self, i: usize, j: usize, life: u64, conn: u64) -> Option<ConnEnd> {
        let end = self.conns.remove(i, j, life, conn)?;
        self.conns.remove(end.peer, i, end.peer_life, end.peer_conn);
        Some(end)
    }

    fn reset_peer(&mut self, i: usize, end: ConnEnd) {
        if self.reachable(i, end.peer) {
            let delay = self.net.delay(&mut self.rng);
            let news = LinkNews::Failed(LinkFailure::Reset);
            self.news_at(delay, end.peer, end.peer_life, i, end.peer_conn, news);
        }
    }

    /// Node `i`'s life ends. A process that ends (`reset`) resets its
    /// connections; a machine that crashes leaves them hanging at the peers.
    pub(super) fn links_down(&mut self, i: usize, reset: bool) {
        let life = self.life(i);
        let mine = self.conns.take(i, life);
        // The peers' ends stay open until they hear of the reset, or write and
        // are answered by one: a peer cut off when this process died has not
        // heard of it.
        if reset {
            for end in mine {
                self.reset_peer(i, end);
            }
        }
        if let Some(slot) = self.slots.0.get_mut(i) {
            slot.peer_links = None;
            slot.machine_up = reset;
        }
    }
}
