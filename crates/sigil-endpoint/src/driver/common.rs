//! What the drivers' sockets share, whatever waits for readiness (`mio` in
//! the blocking driver, Tokio in the async one): the owned form of
//! [`Input`], the bounded write queue with its stall clock, the bounded
//! read loop, name resolution's choice of address, and the limits and
//! failure reasons reported to the device.
//!
//! Every function here takes the socket operation as a closure that never
//! blocks (it answers `WouldBlock` instead), so the same bookkeeping runs
//! over `mio` sockets and over Tokio's `try_read`/`try_write`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::device::{ConnId, Input, SocketId};

/// How long a TCP connect may take (with the async driver: name
/// resolution included).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes queued for one connection: a peer that reads nothing costs
/// its connection, never memory.
pub(crate) const MAX_QUEUED: usize = 1024 * 1024;
/// Largest read at once.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
/// Largest datagram.
pub(crate) const DATAGRAM_MAX: usize = 65_536;
/// Most reads of one socket per wake-up, so one busy peer cannot starve the rest.
pub(crate) const READS_PER_WAKE: usize = 64;

/// What a driver reports back to the device after an operation.
pub(crate) enum Report<S> {
    Input(OwnedInput),
    /// An accepted connection (`S`: the driver's stream type) to hand to
    /// `Device::accept`.
    Accepted {
        socket: S,
        peer: SocketAddr,
        local: SocketAddr,
    },
}

/// [`Input`] with owned bytes.
pub(crate) enum OwnedInput {
    Connected {
        conn: ConnId,
        local: SocketAddr,
        peer: SocketAddr,
    },
    ConnectFailed {
        conn: ConnId,
        reason: String,
    },
    Received {
        conn: ConnId,
        data: Vec<u8>,
    },
    Closed {
        conn: ConnId,
        reason: Option<String>,
    },
    Bound {
        socket: SocketId,
        local: SocketAddr,
    },
    BindFailed {
        socket: SocketId,
        reason: String,
    },
    Datagram {
        socket: SocketId,
        from: SocketAddr,
        data: Vec<u8>,
    },
    Listening {
        local: SocketAddr,
    },
    ListenFailed {
        reason: String,
    },
}

impl OwnedInput {
    pub(crate) fn as_input(&self) -> Input<'_> {
        match self {
            OwnedInput::Connected { conn, local, peer } => Input::Connected {
                conn: *conn,
                local: *local,
                peer: *peer,
            },
            OwnedInput::ConnectFailed { conn, reason } => Input::ConnectFailed {
                conn: *conn,
                reason: reason.clone(),
            },
            OwnedInput::Received { conn, data } => Input::Received { conn: *conn, data },
            OwnedInput::Closed { conn, reason } => Input::Closed {
                conn: *conn,
                reason: reason.clone(),
            },
            OwnedInput::Bound { socket, local } => Input::Bound {
                socket: *socket,
                local: *local,
            },
            OwnedInput::BindFailed { socket, reason } => Input::BindFailed {
                socket: *socket,
                reason: reason.clone(),
            },
            OwnedInput::Datagram { socket, from, data } => Input::Datagram {
                socket: *socket,
                from: *from,
                data,
            },
            OwnedInput::Listening { local } => Input::Listening { local: *local },
            OwnedInput::ListenFailed { reason } => Input::ListenFailed {
                reason: reason.clone(),
            },
        }
    }
}

pub(crate) fn is_would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// The first address `server` resolved to, or why there is none.
pub(crate) fn first_address<I: Iterator<Item = SocketAddr>>(
    server: &str,
    resolved: io::Result<I>,
) -> Result<SocketAddr, String> {
    resolved
        .map_err(|e| format!("cannot resolve {server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))
}

/// The connect deadline passed.
pub(crate) fn connect_timed_out(conn: ConnId) -> OwnedInput {
    OwnedInput::ConnectFailed {
        conn,
        reason: format!("TCP connect timed out after {CONNECT_TIMEOUT:?}"),
    }
}

/// Nothing could be written for `write_timeout`.
pub(crate) fn write_stalled(conn: ConnId, write_timeout: Duration) -> OwnedInput {
    OwnedInput::Closed {
        conn,
        reason: Some(format!(
            "write blocked for {write_timeout:?}: the peer stopped reading"
        )),
    }
}

/// The connection died writing.
pub(crate) fn write_failed(conn: ConnId, e: &io::Error) -> OwnedInput {
    OwnedInput::Closed {
        conn,
        reason: Some(format!("write failed: {e}")),
    }
}

/// The bytes queued for one stream connection: at most [`MAX_QUEUED`],
/// with the time since they last moved (for the write timeout), and
/// whether the connection closes once they are written.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    bytes: Vec<u8>,
    /// Since when the queue has not moved.
    stalled_since: Option<Instant>,
    /// Close once the queue is written.
    closing: bool,
}

impl WriteQueue {
    /// Appends `data`; past [`MAX_QUEUED`] the connection must go, and this
    /// is what to report.
    pub(crate) fn push(&mut self, conn: ConnId, data: &[u8]) -> Result<(), OwnedInput> {
        if self.bytes.len() + data.len() > MAX_QUEUED {
            return Err(OwnedInput::Closed {
                conn,
                reason: Some(format!(
                    "more than {MAX_QUEUED} bytes unsent: the peer stopped reading"
                )),
            });
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Writes what is queued as far as `write` takes it (`write` answers
    /// `WouldBlock` when the socket is full), and restarts the stall clock
    /// when anything moved. An error other than `WouldBlock` is fatal for
    /// the connection.
    pub(crate) fn flush(
        &mut self,
        now: Instant,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut written = 0;
        let mut result = Ok(());
        // Bounded by the queue: every round writes something or stops.
        while written < self.bytes.len() {
            match write(&self.bytes[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if is_would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.bytes.drain(..written);
        self.stalled_since = match (self.bytes.is_empty(), written > 0, self.stalled_since) {
            (true, _, _) => None,
            (false, true, _) | (false, false, None) => Some(now),
            (false, false, since) => since,
        };
        result
    }

    /// When the write timeout fires if nothing moves.
    pub(crate) fn deadline(&self, write_timeout: Duration) -> Option<Instant> {
        self.stalled_since.map(|t| t + write_timeout)
    }

    /// Close once written.
    pub(crate) fn close(&mut self) {
        self.closing = true;
    }

    /// Asked to close, and all written: drop the connection now.
    pub(crate) fn finished(&self) -> bool {
        self.closing && self.bytes.is_empty()
    }
}

/// How a bounded read of a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Nothing more for now (`WouldBlock`).
    Drained,
    /// The budget ran out: there may be more.
    More,
    /// The peer closed it (`None`) or it failed: drop the connection (the
    /// report is already in `out`).
    Closed,
}

/// Reads a stream with `read` (which answers `WouldBlock` when there is
/// nothing), at most `max_reads` chunks, reporting what arrived in `out`.
pub(crate) fn read_stream<S>(
    conn: ConnId,
    max_reads: usize,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    out: &mut Vec<Report<S>>,
) -> ReadEnd {
    let mut buf = vec![0u8; READ_CHUNK];
    for _ in 0..max_reads {
        match read(&mut buf) {
            Ok(0) => {
                out.push(Report::Input(OwnedInput::Closed { conn, reason: None }));
                return ReadEnd::Closed;
            }
            Ok(n) => out.push(Report::Input(OwnedInput::Received {
                conn,
                data: buf[..n].to_vec(),
            })),
            Err(e) if is_would_block(&e) => return ReadEnd::Drained,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                out.push(Report::Input(OwnedInput::Closed {
                    conn,
                    reason: Some(format!("read failed: {e}")),
                }));
                return ReadEnd::Closed;
            }
        }
    }
    ReadEnd::More
}

#[cfg(test)]
mod tests {
    use super::*;

    fn would_block() -> io::Error {
        io::ErrorKind::WouldBlock.into()
    }

    #[test]
    fn the_write_queue_is_bounded_and_its_stall_clock_restarts_on_progress() {
        let conn = ConnId(1);
        let mut q = WriteQueue::default();
        assert!(q.push(conn, &[1; 100]).is_ok());
        assert!(q.push(conn, &vec![0; MAX_QUEUED]).is_err());
        let t0 = Instant::now();
        let timeout = Duration::from_secs(2);
        // A full socket: nothing moves, the clock starts.
        q.flush(t0, |_| Err(would_block())).unwrap();
        assert_eq!(q.deadline(timeout), Some(t0 + timeout));
        // Still nothing: the clock keeps its start.
        q.flush(t0 + Duration::from_secs(1), |_| Err(would_block()))
            .unwrap();
        assert_eq!(q.deadline(timeout), Some(t0 + timeout));
        // Some progress restarts it.
        let t2 = t0 + Duration::from_millis(1500);
        let mut first = true;
        q.flush(t2, |b| {
            if std::mem::take(&mut first) {
                Ok(b.len() / 2)
            } else {
                Err(would_block())
            }
        })
        .unwrap();
        assert_eq!(q.deadline(timeout), Some(t2 + timeout));
        // All written: no deadline; closing then finishes.
        q.flush(t2, |b| Ok(b.len())).unwrap();
        assert_eq!(q.deadline(timeout), None);
        assert!(!q.finished());
        q.close();
        assert!(q.finished());
    }

    #[test]
    fn a_write_error_is_returned_and_what_was_written_leaves_the_queue() {
        let mut q = WriteQueue::default();
        assert!(q.push(ConnId(1), b"abcdef").is_ok());
        let mut calls = 0;
        let result = q.flush(Instant::now(), |_| {
            calls += 1;
            if calls == 1 {
                Ok(2)
            } else {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        });
        assert!(result.is_err());
        assert_eq!(q.bytes, b"cdef");
    }

    #[test]
    fn reads_are_bounded_and_end_on_eof_or_error() {
        let mut out: Vec<Report<()>> = Vec::new();
        assert_eq!(
            read_stream(ConnId(1), 3, |b| Ok(b.len()), &mut out),
            ReadEnd::More
        );
        assert_eq!(out.len(), 3);
        out.clear();
        let mut n = 0;
        let end = read_stream(
            ConnId(1),
            10,
            |_| {
                n += 1;
                if n == 1 {
                    Ok(5)
                } else {
                    Ok(0)
                }
            },
            &mut out,
        );
        assert_eq!(end, ReadEnd::Closed);
        assert!(matches!(
            out.last(),
            Some(Report::Input(OwnedInput::Closed { reason: None, .. }))
        ));
        out.clear();
        let end = read_stream(ConnId(1), 10, |_| Err(would_block()), &mut out);
        assert_eq!(end, ReadEnd::Drained);
        assert!(out.is_empty());
    }
}
