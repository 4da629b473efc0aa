//! The chat, as one application of the replicated log: its entries and its
//! state.
//!
//! A chat message is an entry whose payload is a [`ChatMessage`] (a tag, the
//! author's name, the text); the log itself knows nothing of authors or text.
//! [`ChatRoom`] is the chat's [`StateMachine`]: what the committed history
//! amounts to for a reader of the chat. The node's client sessions
//! ([`crate::client`] on the client side) are the chat's protocol: they turn a
//! client's numbered messages into entries (deduplicated by the log's
//! per-client numbering, as every writer's are) and stream the committed ones
//! back.

use crate::app::StateMachine;
use crate::log::Entry;
use crate::wire::{MAX_CHAT_BYTES, MAX_HISTORY, MAX_USER_NAME};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The first byte of a chat message's payload: never the first byte of
/// UTF-8 text, so another application's text payload is not taken for one.
const TAG: u8 = 0xFF;

/// A chat message as an entry carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatMessage<'a> {
    /// The author's user name (1 to [`MAX_USER_NAME`] bytes).
    pub author: &'a str,
    /// What was written (at most [`MAX_CHAT_BYTES`]).
    pub text: &'a [u8],
}

impl<'a> ChatMessage<'a> {
    /// The payload of an entry carrying this message.
    pub fn encode(&self) -> Box<[u8]> {
        let author = self.author.as_bytes();
        let len = author.len().min(MAX_USER_NAME);
        let mut out = Vec::with_capacity(2 + len + self.text.len());
        out.push(TAG);
        out.push(u8::try_from(len).unwrap_or(u8::MAX));
        out.extend_from_slice(author.get(..len).unwrap_or_default());
        out.extend_from_slice(self.text);
        out.into_boxed_slice()
    }

    /// The message a payload carries; `None` if it is not a chat message.
    pub fn decode(payload: &'a [u8]) -> Option<ChatMessage<'a>> {
        let (&tag, rest) = payload.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if tag != TAG || len == 0 || len > MAX_USER_NAME {
            return None;
        }
        let author = std::str::from_utf8(rest.get(..len)?).ok()?;
        let text = rest.get(len..)?;
        (text.len() <= MAX_CHAT_BYTES).then_some(ChatMessage { author, text })
    }

    /// The chat message `entry` carries: `None` for a leader's marker and an
    /// entry of another application.
    pub fn of(entry: &'a Entry) -> Option<ChatMessage<'a>> {
        if entry.is_marker() {
            return None;
        }
        ChatMessage::decode(&entry.payload)
    }
}

/// Whether `payload` is laid out as a chat message (it begins with the
/// chat's tag byte). A client's [`crate::wire::ClientMsg::Write`] may not be:
/// it would read as a chat message in a name its session did not sign.
pub fn is_chat_payload(payload: &[u8]) -> bool {
    payload.first() == Some(&TAG)
}

/// A line of the chat as a reader sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// The entry's index.
    pub index: u64,
    /// Who wrote it.
    pub author: String,
    /// What was written (UTF-8, damaged bytes replaced).
    pub text: String,
    /// When its leader appended it, in milliseconds on that leader's clock.
    pub at_ms: u64,
}

/// The chat's state: how many messages were written, and the newest
/// [`MAX_HISTORY`] of them (what a client's `/history` shows). Bounded
/// whatever the history's length.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRoom {
    messages: u64,
    recent: VecDeque<ChatLine>,
}

impl ChatRoom {
    /// How many chat messages the history holds.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// The newest messages, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &ChatLine> {
        self.recent.iter()
    }

    fn recent_max() -> usize {
        MAX_HISTORY as usize
    }
}

impl StateMachine for ChatRoom {
    fn apply(&mut self, entry: &Entry) {
        let Some(m) = ChatMessage::of(entry) else {
            return;
        };
        self.messages = self.messages.saturating_add(1);
        if self.recent.len() >= Self::recent_max() {
            self.recent.pop_front();
        }
        self.recent.push_back(ChatLine {
            index: entry.index,
            author: m.author.to_owned(),
            text: String::from_utf8_lossy(m.text).into_owned(),
            at_ms: entry.at.as_millis(),
        });
    }

    fn snapshot(&self) -> Vec<u8> {
        // A plain struct of strings and numbers always encodes.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), String> {
        let room: ChatRoom =
            postcard::from_bytes(snapshot).map_err(|e| format!("not a chat room: {e}"))?;
        let fits = room.recent.len() <= Self::recent_max()
            && room.recent.iter().all(|l| {
                !l.author.is_empty()
                    && l.author.len() <= MAX_USER_NAME
                    && l.text.len() <= 4 * MAX_CHAT_BYTES
            });
        if !fits {
            return Err("a chat room whose lines do not fit its limits".into());
        }
        *self = room;
        Ok(())
    }
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
