//! Role-change hooks: a shell command run when this node becomes leader or follower,
//! with the new state in its environment. A hook that fails or hangs is logged and
//! killed after its timeout; it never stops or slows the node (it runs on its own task).

use ringleader_core::{NodeId, Role};
use std::time::Duration;
use tokio::process::Command;

/// A change of role, as the hooks hear of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleChange {
    /// The role before.
    pub old: Role,
    /// The role now.
    pub new: Role,
    /// The leader now named, if any.
    pub leader: Option<NodeId>,
    /// The epoch (the term under `quorum`): a fencing token.
    pub epoch: u64,
    /// Set when the node stops leading: until when it led, in milliseconds
    /// since the Unix epoch (its clock). Under `quorum` a node that ran out of
    /// lease while its process stood still led only until the lease's end,
    /// which can be well before the hook runs.
    pub led_until_ms: Option<u64>,
}

/// The commands to run, and how long each may take.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    /// Run (by `sh -c`) when this node becomes leader.
    pub on_leader: Option<String>,
    /// Run when this node becomes a follower with a known leader, and when it
    /// stops leading (under `quorum`, before its lease can have run out).
    pub on_follower: Option<String>,
    /// How long a hook may run before it is killed.
    pub timeout: Duration,
}

impl Hooks {
    /// Starts the hook for `change`, if one is set; returns at once. A leader
    /// that steps down runs `on_follower` even before it knows the next
    /// leader: what it did as leader must stop now.
    pub fn fire(&self, node: NodeId, change: RoleChange) {
        let RoleChange {
            old,
            new: role,
            leader,
            epoch,
            led_until_ms,
        } = change;
        let stepped_down = old == Role::Leader && role != Role::Leader;
        let cmd = match role {
            Role::Leader => self.on_leader.clone(),
            _ if stepped_down || leader.is_some() => self.on_follower.clone(),
            _ => None,
        };
        let Some(cmd) = cmd else { return };
        let role_name = match role {
            Role::Leader => "leader",
            Role::Follower | Role::Candidate => "follower",
        };
        let timeout = self.timeout;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&cmd)
            .env("RINGLEADER_ROLE", role_name)
            .env(
                "RINGLEADER_LEADER",
                leader.map_or(String::new(), |l| l.0.to_string()),
            )
            .env("RINGLEADER_EPOCH", epoch.to_string())
            .env("RINGLEADER_NODE", node.0.to_string())
            .env(
                "RINGLEADER_LED_UNTIL_MS",
                led_until_ms.map_or(String::new(), |t| t.to_string()),
            )
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        tokio::spawn(async move {
            let mut child = match command.spawn() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(hook = %cmd, "cannot start the {role_name} hook: {e}");
                    return;
                }
            };
            match tokio::time::timeout(timeout, child.wait()).await {
                Ok(Ok(status)) if status.success() => {
                    tracing::info!(hook = %cmd, "{role_name} hook done");
                }
                Ok(Ok(status)) => tracing::warn!(hook = %cmd, %status, "{role_name} hook failed"),
                Ok(Err(e)) => tracing::warn!(hook = %cmd, "{role_name} hook: {e}"),
                Err(_) => {
                    let _ = child.kill().await;
                    tracing::warn!(hook = %cmd, ?timeout, "{role_name} hook timed out and was killed");
                }
            }
        });
    }
}
