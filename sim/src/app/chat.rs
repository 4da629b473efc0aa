//! The chat as an application in the simulator: [`ChatRoom`] on every node,
//! built from the chat clients' messages and the leader's own (proposed as
//! chat messages signed with its node's name), checked like any other
//! application.

use super::spec::{AppView, Proposing, SimApp};
use ringleader_core::chat::{ChatMessage, ChatRoom};

impl SimApp for ChatRoom {
    fn proposal(&self, turn: &Proposing) -> Option<Vec<u8>> {
        let author = turn.node.to_string();
        let text = format!("message {} of epoch {}", turn.n, turn.epoch);
        let message = ChatMessage {
            author: &author,
            text: text.as_bytes(),
        };
        Some(message.encode().into_vec())
    }
}

/// Rooms that applied the same index are the same room (under `quorum` one
/// index names one history): an invariant for [`super::AppSim`].
pub fn rooms_agree(view: &AppView<'_, ChatRoom>) -> Result<(), String> {
    let mut seen = std::collections::BTreeMap::new();
    for node in &view.nodes {
        let Some(r) = node.replica else { continue };
        if let Some((other, room)) = seen.insert(r.applied(), (node.id, r.state())) {
            if room != r.state() {
                return Err(format!(
                    "{other} and {} applied up to {} but their chat rooms differ",
                    node.id,
                    r.applied()
                ));
            }
        }
    }
    Ok(())
}
