//! Bugs planted on purpose, to prove that sweeps and shrinking find real
//! mistakes (reachable only through a hidden option).
//!
//! They live here, in the simulator, behind one seam, and the core has no idea
//! they exist: the world asks the planted bug to bend a node's configuration once,
//! when it builds the node (`InjectedBug::configure`), and to bend what a node
//! sends after a step (`InjectedBug::before_step`, `Lie::tell`). With no bug
//! planted both are no-ops the world skips.

use ringleader_core::wire::{
    AppendOutcome, ClientId, ClientMsg, Message, ReplicationMsg, ServerMsg,
};
use ringleader_core::{Action, Config, Event, NodeId};

/// A deliberate bug.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InjectedBug {
    /// The real thing.
    #[default]
    None,
    /// `quorum` counts half of the voters (a minority with an even count, one
    /// short of a majority with an odd one) as a majority, for votes and commits:
    /// every node is configured with a voter list that leaves out one (even
    /// count) or two (odd count) of the others, so majorities need not overlap.
    MinorityQuorum,
    /// A follower acknowledges an append as matched even when it refused it.
    AckBeforeAppend,
    /// Every node sends its heartbeats every millisecond instead of as
    /// configured: a cluster that is never quiet.
    EagerHeartbeat,
    /// A follower acknowledges entries the moment it takes them, before its
    /// disk holds them (the write-ahead rule broken).
    AckBeforeDurable,
    /// A leader tells a client its message is committed the moment it takes
    /// it, before a majority holds it.
    AckBeforeCommit,
}

impl InjectedBug {
    /// Every bug, by name.
    pub const ALL: [(&'static str, InjectedBug); 6] = [
        ("none", InjectedBug::None),
        ("minority-quorum", InjectedBug::MinorityQuorum),
        ("ack-before-append", InjectedBug::AckBeforeAppend),
        ("eager-heartbeat", InjectedBug::EagerHeartbeat),
        ("ack-before-durable", InjectedBug::AckBeforeDurable),
        ("ack-before-commit", InjectedBug::AckBeforeCommit),
    ];

    /// The bug's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("none", |(n, _)| n)
    }

    /// The bug called `name`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                format!(
                    "unknown injected bug '{name}' (expected minority-quorum, ack-before-append, eager-heartbeat, ack-before-durable or ack-before-commit)"
                )
            })
    }

    /// Bends the configuration of node `id` as the bug wants.
    pub(crate) fn configure(self, config: &mut Config, id: NodeId) {
        if self == InjectedBug::EagerHeartbeat {
            config.heartbeat_interval = std::time::Duration::from_millis(1);
        }
        if self != InjectedBug::MinorityQuorum {
            return;
        }
        let n = config.voters.len();
        // A majority of n - k voters is half of n (at least 1) for k = 1 when n
        // is even and k = 2 when it is odd.
        let drop = if n.is_multiple_of(2) { 1 } else { 2 }.min(n.saturating_sub(1));
        let mut voters = config.voters.clone();
        voters.sort();
        let at = voters.iter().position(|v| *v == id).unwrap_or(0);
        let left_out: Vec<NodeId> = (1..=drop)
            .filter_map(|k| voters.get((at + k) % n).copied())
            .filter(|v| *v != id)
            .collect();
        config.voters.retain(|v| !left_out.contains(v));
    }

    /// What the bug must know of `event` before the node takes it, if anything.
    pub(crate) fn before_step(self, event: &Event) -> Option<Lie> {
        match (self, event) {
            (
                InjectedBug::AckBeforeCommit,
                Event::FromClient {
                    client,
                    msg: ClientMsg::Chat { seq, .. } | ClientMsg::Write { seq, .. },
                },
            ) => Some(Lie::Commit {
                client: *client,
                seq: *seq,
            }),
            (
                InjectedBug::AckBeforeAppend | InjectedBug::AckBeforeDurable,
                Event::Received(Message::Replication { from, msg }),
            ) => match &**msg {
                ReplicationMsg::Append {
                    epoch,
                    prev_index,
                    entries,
                    ..
                } => Some(Lie::Append(AppendLie {
                    leader: from.id,
                    epoch: *epoch,
                    claimed: prev_index.saturating_add(entries.len() as u64),
                    early: self == InjectedBug::AckBeforeDurable,
                })),
                _ => None,
            },
            _ => None,
        }
    }
}

/// What the bug will claim whatever the node answered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lie {
    /// A follower's acknowledgement of an append.
    Append(AppendLie),
    /// A leader's acknowledgement to a client of its message `seq`.
    Commit { client: ClientId, seq: u64 },
}

impl Lie {
    /// Bends what node `me` sends after the step.
    pub(crate) fn tell(self, actions: &mut Vec<Action>, me: ringleader_core::NodeInfo) {
        match self {
            Lie::Append(lie) => lie.tell(actions, me),
            Lie::Commit { client, seq } => {
                // Only a leader that took the message: it wrote it down.
                if took_entries(actions) {
                    actions.push(Action::ToClient {
                        client,
                        msg: Box::new(ServerMsg::Ack { seq }),
                    });
                }
            }
        }
    }
}

/// Whether the step wrote entries to the node's log (it took them).
fn took_entries(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::WriteLog { write, .. } if !write.entries.is_empty()))
}

/// An acknowledgement of an append the bug will claim.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppendLie {
    leader: NodeId,
    epoch: u64,
    claimed: u64,
    /// Acknowledge entries taken at once, not once durable.
    early: bool,
}

impl AppendLie {
    /// Turns a refusal of the append into an acknowledgement of all of it;
    /// or, `early`, acknowledges entries the node took but has not on disk.
    fn tell(self, actions: &mut Vec<Action>, me: ringleader_core::NodeInfo) {
        if self.early {
            if took_entries(actions) {
                let reply = ReplicationMsg::AppendReply {
                    epoch: self.epoch,
                    outcome: AppendOutcome::Matched(self.claimed),
                };
                actions.push(Action::Send {
                    to: self.leader,
                    msg: Message::Replication {
                        from: me,
                        msg: Box::new(reply),
                    },
                });
            }
            return;
        }
        for action in actions.iter_mut() {
            let Action::Send {
                to,
                msg: Message::Replication { msg, .. },
            } = action
            else {
                continue;
            };
            if *to != self.leader {
                continue;
            }
            if let ReplicationMsg::AppendReply { epoch, outcome } = &mut **msg {
                if *epoch == self.epoch && !matches!(outcome, AppendOutcome::Matched(_)) {
                    *outcome = AppendOutcome::Matched(self.claimed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voters(bug: InjectedBug, n: u32, id: u32) -> Vec<u32> {
        let mut config = Config {
            voters: (1..=n).map(NodeId).collect(),
            ..Config::default()
        };
        bug.configure(&mut config, NodeId(id));
        config.voters.iter().map(|v| v.0).collect()
    }

    #[test]
    fn a_minority_quorum_leaves_out_voters_so_half_of_them_is_a_majority() {
        assert_eq!(voters(InjectedBug::MinorityQuorum, 4, 1), vec![1, 3, 4]);
        assert_eq!(voters(InjectedBug::MinorityQuorum, 4, 4), vec![2, 3, 4]);
        assert_eq!(voters(InjectedBug::MinorityQuorum, 5, 5), vec![3, 4, 5]);
        assert_eq!(voters(InjectedBug::MinorityQuorum, 3, 2), vec![2]);
        assert_eq!(voters(InjectedBug::MinorityQuorum, 1, 1), vec![1]);
        assert_eq!(voters(InjectedBug::None, 4, 1), vec![1, 2, 3, 4]);
    }

    #[test]
    fn names_round_trip() {
        for (name, bug) in InjectedBug::ALL {
            assert_eq!(InjectedBug::from_name(name), Ok(bug));
            assert_eq!(bug.name(), name);
        }
        assert!(InjectedBug::from_name("typo").is_err());
    }
}
