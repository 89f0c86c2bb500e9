//! Fewer file reads: the core asks for one block at a time, and a window of
//! small blocks would cost one `pread` each. The engine sends one window at
//! a time, so one buffer, shared by every transfer, read ahead from the
//! block asked for, serves the rest of that window.

use awl_core::tftp::{FileError, FileSource};

use crate::tftp::files::RootDir;

/// How much is read ahead: one GSO batch (at most 64 KiB of datagrams).
const AHEAD: usize = 64 << 10;
/// Reads this large go straight into the caller's buffer (a copy through
/// the cache would cost more than the system call it saves).
const DIRECT: usize = 16 << 10;
/// Blocks this large are sent from the file (`sendfile`, see
/// `udp::send_from_file`): GSO cannot put two of them in one send, so each
/// costs its own system calls anyway, and two copies (file to buffer,
/// buffer to socket) are most of what a 64 KiB block costs.
const FROM_FILE: usize = 32 << 10;

/// [`RootDir`] with a read-ahead buffer.
pub(super) struct ReadAhead {
    root: RootDir,
    buf: Box<[u8]>,
    /// What `buf` holds: handle, file offset, bytes.
    held: Option<(usize, u64, usize)>,
    /// How much the transfer being served will take now (its window):
    /// no read goes further ahead than that.
    window: usize,
}

impl ReadAhead {
    pub(super) fn new(root: RootDir) -> Self {
        Self {
            root,
            buf: vec![0; AHEAD].into_boxed_slice(),
            held: None,
            window: AHEAD,
        }
    }

    /// The transfer about to be served sends `bytes` (its window of
    /// blocks) now: reads ahead no further. At window 1 (iPXE) a block is
    /// read alone, straight into the caller's buffer: a 64 KiB read ahead
    /// would be thrown away by the next transfer's block.
    pub(super) fn set_window(&mut self, bytes: usize) {
        self.window = bytes.clamp(1, AHEAD);
    }

    pub(super) fn root(&self) -> &RootDir {
        &self.root
    }

    pub(super) fn root_mut(&mut self) -> &mut RootDir {
        &mut self.root
    }

    /// Forgets what is held for `handle` (handles are reused once closed).
    fn forget(&mut self, handle: usize) {
        if self.held.is_some_and(|(h, _, _)| h == handle) {
            self.held = None;
        }
    }
}

impl FileSource for ReadAhead {
    type Handle = usize;

    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        let (handle, size) = self.root.open(path)?;
        self.forget(handle);
        Ok((handle, size))
    }

    fn read_at(&mut self, handle: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        // Bytes held in memory (a rendered boot config) gain nothing here.
        if dst.len() >= DIRECT || dst.len() >= self.window || !self.root.is_file(handle) {
            return self.root.read_at(handle, offset, dst);
        }
        let hit = |&(h, start, len): &(usize, u64, usize)| {
            h == handle && offset >= start && offset - start < len as u64
        };
        if !self.held.as_ref().is_some_and(hit) {
            self.held = None;
            let ahead = self.window;
            let len = self.root.read_at(handle, offset, &mut self.buf[..ahead])?;
            if len == 0 {
                return Ok(0);
            }
            self.held = Some((handle, offset, len));
        }
        let Some((_, start, len)) = self.held else {
            return Ok(0);
        };
        let from = usize::try_from(offset - start).unwrap_or(len);
        let available = self.buf.get(from..len).unwrap_or_default();
        let n = available.len().min(dst.len());
        dst[..n].copy_from_slice(&available[..n]);
        // A block that runs past what is held gets the rest from a new read
        // (the core asks again for what is missing).
        Ok(n)
    }

    fn sends_from_file(&self, handle: usize, len: usize) -> bool {
        len >= FROM_FILE && self.root.is_file(handle)
    }

    fn close(&mut self, handle: usize) {
        self.forget(handle);
        self.root.close(handle);
    }

    fn create(&mut self, path: &str) -> Result<usize, FileError> {
        let handle = self.root.create(path)?;
        self.forget(handle);
        Ok(handle)
    }

    fn write_at(&mut self, handle: usize, offset: u64, data: &[u8]) -> Result<(), FileError> {
        self.forget(handle);
        self.root.write_at(handle, offset, data)
    }

    fn finish(&mut self, handle: usize, complete: bool) {
        self.forget(handle);
        self.root.finish(handle, complete);
    }
}
