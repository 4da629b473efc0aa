//! What `cluster` prints: the nodes' events and exits turned into lines a
//! person follows. Pure: events in, lines out (the caller prints them), so
//! the rules are tested without processes.
//!
//! - "all N live nodes follow nX (epoch e)" once every node still running
//!   names the same leader in the same epoch *and that leader says it leads*
//!   (a restarted node names its old leader before it has heard of a newer
//!   one), and again after every change of leadership;
//! - a member suspected and recovered is counted, and summed up every
//!   [`FLAP_SUMMARY`] unless `verbose`: on a busy machine heartbeats run late
//!   and those lines would bury everything else. Joins, deaths and departures
//!   are printed as they come.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often suspicions and recoveries are summed up.
pub const FLAP_SUMMARY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct NodeView {
    started: bool,
    live: bool,
    pid: Option<u32>,
    role: Option<String>,
    leader: Option<u64>,
    epoch: u64,
}

/// The state of the screen.
#[derive(Debug)]
pub struct Screen {
    verbose: bool,
    nodes: BTreeMap<u64, NodeView>,
    /// The leadership last announced as agreed.
    announced: Option<(u64, u64)>,
    /// Suspicions and recoveries since the last summary, by (observer, member).
    flaps: BTreeMap<(u64, u64), (u32, u32)>,
    last_summary: Instant,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("?").to_owned()
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl Screen {
    /// A screen for nodes `1..=n`, none started yet.
    pub fn new(n: u32, verbose: bool, now: Instant) -> Screen {
        let nodes = (1..=u64::from(n))
            .map(|id| {
                let view = NodeView {
                    live: true,
                    ..NodeView::default()
                };
                (id, view)
            })
            .collect();
        Screen {
            verbose,
            nodes,
            announced: None,
            flaps: BTreeMap::new(),
            last_summary: now,
        }
    }

    /// Whether node `id` said it started.
    pub fn started(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.started)
    }

    /// How many nodes are still running.
    pub fn live(&self) -> usize {
        self.nodes.values().filter(|n| n.live).count()
    }

    /// The lines for one event a node printed (`--events` JSON).
    pub fn on_event(&mut self, v: &Value) -> Vec<String> {
        let id = number(v, "node");
        let mut out = Vec::new();
        let Some(view) = self.nodes.get_mut(&id) else {
            return out;
        };
        match v.get("event").and_then(Value::as_str) {
            Some("started") => {
                view.started = true;
                view.pid = v.get("pid").and_then(Value::as_u64).map(|p| p as u32);
                let page = v
                    .get("http")
                    .and_then(Value::as_str)
                    .map_or_else(String::new, |u| format!(", status page {u}"));
                out.push(format!(
                    "n{id} started (pid {}) at {}{page} (start #{})",
                    view.pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                    text(v, "addr"),
                    number(v, "starts")
                ));
            }
            Some("role") => {
                let role = text(v, "role");
                let leader = v.get("leader").and_then(Value::as_u64);
                let epoch = number(v, "epoch");
                let named = match leader {
                    _ if role == "leader" => String::new(),
                    Some(l) => format!(", leader n{l}"),
                    None => ", no leader known".to_owned(),
                };
                out.push(format!("n{id} is {role}{named} (epoch {epoch})"));
                view.role = Some(role);
                view.leader = leader;
                view.epoch = epoch;
                out.extend(self.agreement());
            }
            Some("member") => {
                let member = number(v, "member");
                let change = text(v, "change");
                let flap = match change.as_str() {
                    "suspected" => Some((1, 0)),
                    "recovered" => Some((0, 1)),
                    _ => None,
                };
                match flap {
                    Some((s, r)) if !self.verbose => {
                        let e = self.flaps.entry((id, member)).or_default();
                        e.0 += s;
                        e.1 += r;
                    }
                    _ => out.push(format!("n{id} sees n{member} {change}")),
                }
            }
            _ => {}
        }
        out
    }

    /// The lines for node `id`'s process ending (`how`: "exited with status
    /// 1", "was killed by signal 9 (SIGKILL)").
    pub fn on_exit(&mut self, id: u64, pid: Option<u32>, how: &str) -> Vec<String> {
        let Some(view) = self.nodes.get_mut(&id) else {
            return Vec::new();
        };
        view.live = false;
        let pid = pid
            .or(view.pid)
            .map_or_else(String::new, |p| format!(" (pid {p})"));
        let mut out = vec![format!("n{id}{pid} {how}")];
        // The others' agreement may now be complete (or name a dead leader).
        out.extend(self.agreement());
        out
    }

    /// The summary of suspicions and recoveries, when one is due.
    pub fn tick(&mut self, now: Instant) -> Vec<String> {
        if now.duration_since(self.last_summary) < FLAP_SUMMARY {
            return Vec::new();
        }
        self.last_summary = now;
        if self.flaps.is_empty() {
            return Vec::new();
        }
        let flaps = std::mem::take(&mut self.flaps);
        let (s, r) = flaps.values().fold((0, 0), |(s, r), (a, b)| (s + a, r + b));
        let pairs: Vec<String> = flaps
            .iter()
            .map(|((by, of), (a, b))| format!("n{by} on n{of} ×{}", a + b))
            .collect();
        vec![format!(
            "~ membership flapping in the last {} s: {s} suspicions, {r} recoveries ({}); \
             a busy machine delays heartbeats (--verbose shows each)",
            FLAP_SUMMARY.as_secs(),
            pairs.join(", ")
        )]
    }

    /// "all N live nodes follow nX" when that became true.
    fn agreement(&mut self) -> Vec<String> {
        let live: Vec<&NodeView> = self.nodes.values().filter(|n| n.live).collect();
        let Some(first) = live.first() else {
            return Vec::new();
        };
        let (Some(leader), epoch) = (first.leader, first.epoch) else {
            return Vec::new();
        };
        let agreed = live
            .iter()
            .all(|n| n.started && n.leader == Some(leader) && n.epoch == epoch);
        let leads = self
            .nodes
            .get(&leader)
            .is_some_and(|l| l.live && l.role.as_deref() == Some("leader") && l.epoch == epoch);
        if !agreed || !leads || self.announced == Some((leader, epoch)) {
            return Vec::new();
        }
        self.announced = Some((leader, epoch));
        let down: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.live)
            .map(|(id, _)| format!("n{id}"))
            .collect();
        let down = if down.is_empty() {
            String::new()
        } else {
            format!("; down: {}", down.join(", "))
        };
        vec![format!(
            "== all {} live nodes follow n{leader} (epoch {epoch}){down}",
            live.len()
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(s: &mut Screen, node: u64, role: &str, leader: u64, epoch: u64) -> Vec<String> {
        s.on_event(
            &json!({"event": "role", "node": node, "role": role, "leader": leader, "epoch": epoch}),
        )
    }

    fn started(s: &mut Screen, n: u64) {
        let e = json!({"event": "started", "node": n, "addr": "a", "starts": 1, "pid": 100 + n});
        s.on_event(&e);
    }

    fn agreed(lines: &[String]) -> Vec<&String> {
        lines.iter().filter(|l| l.starts_with("==")).collect()
    }

    #[test]
    fn agreement_waits_for_the_leader_itself_and_follows_a_failover() {
        let now = Instant::now();
        let mut s = Screen::new(3, false, now);
        (1..=3).for_each(|n| started(&mut s, n));
        // A restart over old data: both name n3 of epoch 1 before n3 says anything.
        assert!(agreed(&role(&mut s, 1, "follower", 3, 1)).is_empty());
        assert!(agreed(&role(&mut s, 2, "follower", 3, 1)).is_empty());
        assert!(
            agreed(&role(&mut s, 3, "follower", 3, 1)).is_empty(),
            "n3 does not lead"
        );
        role(&mut s, 3, "leader", 3, 5);
        role(&mut s, 1, "follower", 3, 5);
        let lines = role(&mut s, 2, "follower", 3, 5);
        assert_eq!(agreed(&lines), ["== all 3 live nodes follow n3 (epoch 5)"]);
        // n3 is killed: the others follow n2, and that is said without n3.
        let exit = s.on_exit(3, None, "was killed by signal 9 (SIGKILL)");
        assert_eq!(exit[0], "n3 (pid 103) was killed by signal 9 (SIGKILL)");
        role(&mut s, 2, "leader", 2, 6);
        let lines = role(&mut s, 1, "follower", 2, 6);
        assert_eq!(
            agreed(&lines),
            ["== all 2 live nodes follow n2 (epoch 6); down: n3"]
        );
        // Said once per leadership.
        assert!(agreed(&role(&mut s, 1, "follower", 2, 6)).is_empty());
    }

    #[test]
    fn suspicions_are_summed_up_unless_verbose() {
        let now = Instant::now();
        let mut s = Screen::new(3, false, now);
        for _ in 0..5 {
            let e = json!({"event": "member", "node": 1, "member": 3, "change": "suspected"});
            assert!(s.on_event(&e).is_empty());
            let e = json!({"event": "member", "node": 1, "member": 3, "change": "recovered"});
            assert!(s.on_event(&e).is_empty());
        }
        let died = json!({"event": "member", "node": 1, "member": 2, "change": "died"});
        assert_eq!(s.on_event(&died), ["n1 sees n2 died"]);
        assert!(s.tick(now + Duration::from_secs(1)).is_empty());
        let summary = s.tick(now + FLAP_SUMMARY);
        assert_eq!(summary.len(), 1);
        assert!(
            summary[0].contains("5 suspicions, 5 recoveries (n1 on n3 ×10)"),
            "{summary:?}"
        );
        assert!(s.tick(now + FLAP_SUMMARY * 2).is_empty(), "nothing new");
        let mut v = Screen::new(3, true, now);
        let e = json!({"event": "member", "node": 1, "member": 3, "change": "suspected"});
        assert_eq!(v.on_event(&e), ["n1 sees n3 suspected"]);
    }
}
