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
    view.agree_by(ringleader_core::app::Replica::applied)
}
