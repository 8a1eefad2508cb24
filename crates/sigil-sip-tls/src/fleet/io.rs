//! Driving a [`SipTlsConnection`] from a tokio socket by readiness: bytes are
//! read only when the socket has some, into a buffer on the stack of the
//! poll (never kept across an `.await`), and written until the socket would
//! block.

use std::io::ErrorKind;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::connection::SipTlsConnection;
use crate::error::Error;

/// What reading found.
pub(super) enum Input {
    /// Bytes were read (or a spurious wake-up: nothing was).
    Data,
    /// The peer closed its side.
    Eof,
}

/// Most reads in one go before yielding to other connections.
const READS_PER_WAKE: usize = 16;

/// Reads what the socket has without waiting and feeds it to `conn`.
pub(super) fn read_available(
    stream: &TcpStream,
    conn: &mut SipTlsConnection,
) -> Result<Input, Error> {
    let mut buf = [0u8; 8 * 1024];
    for _ in 0..READS_PER_WAKE {
        match stream.try_read(&mut buf) {
            Ok(0) => {
                conn.handle_eof(std::time::Instant::now())?;
                return Ok(Input::Eof);
            }
            Ok(n) => {
                conn.handle_input(buf.get(..n).unwrap_or_default(), std::time::Instant::now())?;
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(Input::Data)
}

/// Sends everything `conn` has queued, waiting for the socket at most until `deadline`.
pub(super) async fn flush(
    stream: &TcpStream,
    conn: &mut SipTlsConnection,
    deadline: Instant,
) -> std::io::Result<()> {
    if !conn.wants_write() {
        return Ok(());
    }
    let out = conn.take_transmit();
    let mut data = &out[..];
    while !data.is_empty() {
        match stream.try_write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                tokio::time::timeout_at(deadline, stream.writable())
                    .await
                    .map_err(|_| {
                        std::io::Error::new(ErrorKind::TimedOut, "the peer does not read")
                    })??;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
