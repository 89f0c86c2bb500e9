//! Serving a directory to the core's TFTP server: paths arrive already
//! normalised (no `..`, no leading `/`); this adds what only a real file
//! system has: symbolic links, non-regular files, permissions.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use awl_core::tftp::{FileError, FileSource};

/// Files under one root directory, read with positioned reads (the page
/// cache does the rest). Handles index a table of open files.
pub struct RootDir {
    root: PathBuf,
    open: Vec<Option<(File, String)>>,
}

impl RootDir {
    /// Serves `root` (which must exist).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            open: Vec::new(),
        })
    }

    /// The root, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path a handle was opened with (for logs).
    pub fn path(&self, handle: usize) -> &str {
        self.open
            .get(handle)
            .and_then(|o| o.as_ref())
            .map_or("?", |(_, p)| p.as_str())
    }
}

impl FileSource for RootDir {
    type Handle = usize;

    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        let full = self.root.join(path);
        // Symbolic links are followed only while they stay inside the root.
        let real = full.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FileError::NotFound,
            std::io::ErrorKind::PermissionDenied => FileError::AccessDenied,
            _ => FileError::NotFound,
        })?;
        if !real.starts_with(&self.root) {
            return Err(FileError::AccessDenied);
        }
        let file = File::open(&real).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FileError::NotFound,
            _ => FileError::AccessDenied,
        })?;
        let meta = file.metadata().map_err(|_| FileError::Io)?;
        if !meta.is_file() {
            return Err(FileError::AccessDenied);
        }
        let entry = Some((file, path.to_string()));
        let handle = match self.open.iter().position(Option::is_none) {
            Some(free) => {
                self.open[free] = entry;
                free
            }
            None => {
                self.open.push(entry);
                self.open.len() - 1
            }
        };
        Ok((handle, meta.len()))
    }

    fn read_at(&mut self, handle: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let (file, _) = self
            .open
            .get(handle)
            .and_then(|o| o.as_ref())
            .ok_or(FileError::Io)?;
        file.read_at(dst, offset).map_err(|_| FileError::Io)
    }

    fn close(&mut self, handle: usize) {
        if let Some(slot) = self.open.get_mut(handle) {
            *slot = None;
        }
    }
}
