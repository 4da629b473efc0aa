//! Simulated chat clients: the core's sans-IO [`Client`] behind a modelled TCP
//! connection.
//!
//! A connection is reliable and ordered (TCP) with the network's latency in each
//! direction. It breaks when either side closes it. A server that restarts or
//! leaves resets its connections (the client hears of it); a crashed server simply
//! falls silent, and the client must notice by its own timeout, as with a machine
//! that lost power.

use ringleader_core::client::Client;
use ringleader_core::wire::ClientId;
use ringleader_core::Instant;

/// Client index `c` (from 0) is `c<c + 1>` in traces and reports.
pub(crate) fn number(c: usize) -> u32 {
    c as u32 + 1
}

/// The id simulated client index `c` uses on the wire: its number.
pub(crate) fn client_id(c: usize) -> ClientId {
    ClientId(u64::from(number(c)))
}

/// What simulated client `client` says in its message number `seq`:
/// `message <seq> from c<client>`. Written without the formatting
/// machinery (`itoa` writes the numbers): a client sends a message every few
/// milliseconds, and `format!` cost more than the rest of sending it.
pub(crate) fn chat_text(seq: u64, client: u32) -> String {
    let mut digits = itoa::Buffer::new();
    let mut text = String::with_capacity(40);
    text.push_str("message ");
    text.push_str(digits.format(seq));
    text.push_str(" from c");
    text.push_str(digits.format(client));
    text
}

/// One client's end of a connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    /// The connection's number, unique per client; events of older ones are stale.
    pub id: u64,
    /// The server's index.
    pub server: usize,
    /// The server's life when the connection was opened.
    pub life: u64,
    /// When the last client-to-server segment arrives; later ones arrive after it.
    pub up_last: Instant,
    /// The same for server to client.
    pub down_last: Instant,
}

/// One simulated client.
pub(crate) struct SimClient {
    pub client: Client,
    pub link: Option<Link>,
    pub next_link: u64,
    pub tick_at: Option<Instant>,
    pub quit: bool,
}

impl SimClient {
    pub(crate) fn new(client: Client) -> Self {
        SimClient {
            client,
            link: None,
            next_link: 0,
            tick_at: None,
            quit: false,
        }
    }

    /// The current link if it is connection `id`.
    pub(crate) fn link_if(&mut self, id: u64) -> Option<&mut Link> {
        self.link.as_mut().filter(|l| l.id == id)
    }
}

/// Delivery time on an ordered stream: after `delay`, and never before the
/// segment sent before it.
pub(crate) fn ordered(now: Instant, delay: std::time::Duration, last: &mut Instant) -> Instant {
    let at = (now + delay).max(*last);
    *last = at;
    at
}

#[cfg(test)]
mod tests {
    use super::chat_text;

    #[test]
    fn a_chat_text_reads_as_formatting_writes_it() {
        for seq in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            for client in [0, 1, 9, 10, 255, u32::MAX] {
                assert_eq!(
                    chat_text(seq, client),
                    format!("message {seq} from c{client}")
                );
            }
        }
    }
}
