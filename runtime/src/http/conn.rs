//! The HTTP server's connections, capped and timed out: the status page is
//! read by people and scrapers, and nobody else may pin its sockets or
//! memory by opening connections and saying nothing. At the cap, a new
//! connection closes the oldest one (as the node's own listener does), so a
//! flood of idle connections cannot shut the page to a scraper that comes
//! later: it only shortens how long an idle connection may stay.

use crate::ratelimit::LogLimit;
use crate::warn_limited;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// Connections open at once; one more closes the oldest.
pub const MAX_CONNECTIONS: usize = 32;
/// A connection that reads nothing for this long is closed (a browser that
/// keeps one open to refresh the page sends a request every few seconds).
pub const IDLE: Duration = Duration::from_secs(30);

static EVICTED: LogLimit = LogLimit::new();

/// The listener's way to close a connection it handed out.
#[derive(Debug, Default)]
struct Closer {
    closed: AtomicBool,
    /// The task that last polled the connection, to wake when it is closed.
    waker: Mutex<Option<Waker>>,
}

impl Closer {
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().ok().and_then(|mut w| w.take()) {
            w.wake();
        }
    }

    /// Whether the connection was closed; if not, `cx` is woken when it is.
    fn check(&self, cx: &Context<'_>) -> bool {
        if let Ok(mut w) = self.waker.lock() {
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        self.closed.load(Ordering::Acquire)
    }
}

/// A listener that holds at most [`MAX_CONNECTIONS`] connections.
pub struct Capped {
    listener: TcpListener,
    /// The connections handed out, oldest first.
    open: VecDeque<Arc<Closer>>,
}

impl Capped {
    /// Caps the connections of `listener`.
    pub fn new(listener: TcpListener) -> Self {
        Capped {
            listener,
            open: VecDeque::new(),
        }
    }
}

impl axum::serve::Listener for Capped {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, from)) => {
                    // A connection whose `Conn` is gone holds nothing any more.
                    self.open.retain(|c| Arc::strong_count(c) > 1);
                    while self.open.len() >= MAX_CONNECTIONS {
                        let Some(oldest) = self.open.pop_front() else {
                            break;
                        };
                        oldest.close();
                        warn_limited!(EVICTED, %from, max = MAX_CONNECTIONS, "status page: closed the oldest connection to make room");
                    }
                    let _ = stream.set_nodelay(true);
                    let closer = Arc::new(Closer::default());
                    self.open.push_back(closer.clone());
                    let idle = Box::pin(tokio::time::sleep(IDLE));
                    return (
                        Conn {
                            stream,
                            idle,
                            closer,
                        },
                        from,
                    );
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::debug!("http accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// One connection, closed when idle too long or when the listener needs
/// its place.
pub struct Conn {
    stream: TcpStream,
    idle: Pin<Box<Sleep>>,
    closer: Arc<Closer>,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "closed to make room")
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closer.check(cx) {
            return Poll::Ready(Err(closed()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + IDLE;
                    self.idle.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closer.check(cx) {
            return Poll::Ready(Err(closed()));
        }
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            // A peer that asks and never reads the answers is not waited for either.
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
