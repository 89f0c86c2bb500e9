//! HTTP on port 80: **the hook** where an accepted TCP connection's bytes
//! are handed to the core's HTTP responder.
//!
//! `awl_core::http` (a sans-IO GET responder on `httparse`, with the iPXE
//! script renderer) is being written in `core/` now. Until it lands, every
//! request gets `501 Not Implemented` and the connection is closed, so a
//! client is told at once rather than left waiting. Replace the body of
//! [`serve`] with the core responder; nothing else in the app changes.

use awl_core::time::Instant;
use smoltcp::socket::tcp;

use crate::files::FlashFiles;
use crate::log::Log;
use crate::packed::Packed;

const NOT_IMPLEMENTED: &[u8] = b"HTTP/1.0 501 Not Implemented\r\n\
Content-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\n\
HTTP is not served here yet.\r\n";

/// Serves one established connection for one poll pass: reads what the
/// client sent, writes what fits of the answer, closes when done. Returns
/// whether anything moved. `files` are the packed boot files (served under
/// `/boot/` once the responder lands), `packed` the settings a boot script
/// is rendered from (server address, mirror URL).
pub fn serve<L: Log>(
    socket: &mut tcp::Socket<'_>,
    now: Instant,
    packed: &Packed,
    files: &FlashFiles,
    log: &mut L,
) -> bool {
    let _ = (now, packed, files);
    let mut moved = false;
    // Wait for the end of the request head (or a full buffer).
    let mut head_done = false;
    if socket.can_recv() {
        let _ = socket.recv(|data| {
            head_done = data.windows(4).any(|w| w == b"\r\n\r\n");
            (data.len(), ())
        });
        moved = true;
    }
    if head_done && socket.can_send() {
        if let Some(peer) = socket.remote_endpoint() {
            crate::log!(log, "http: {} 501 (no HTTP responder in this build)", peer);
        }
        let _ = socket.send_slice(NOT_IMPLEMENTED);
        socket.close();
        moved = true;
    }
    moved
}
