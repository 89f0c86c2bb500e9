//! Serving a directory to the core's TFTP server: paths arrive already
//! normalised (no `..`, no leading `/`); this adds what only a real file
//! system has: symbolic links, non-regular files, permissions, and a
//! separate directory for uploads.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use awl_core::tftp::{FileError, FileSource};

/// Files under one root directory, read with positioned reads (the page
/// cache does the rest). Handles index a table of open files.
pub struct RootDir {
    root: PathBuf,
    uploads: Option<PathBuf>,
    open: Vec<Option<(File, String)>>,
}

impl RootDir {
    /// Serves `root` (which must exist); uploads, when enabled, go to their
    /// own directory.
    pub fn new(root: &Path, uploads: Option<&Path>) -> std::io::Result<Self> {
        let uploads = uploads.map(Path::canonicalize).transpose()?;
        Ok(Self {
            root: root.canonicalize()?,
            uploads,
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

    fn insert(&mut self, file: File, path: &str) -> usize {
        let entry = Some((file, path.to_string()));
        match self.open.iter().position(Option::is_none) {
            Some(free) => {
                self.open[free] = entry;
                free
            }
            None => {
                self.open.push(entry);
                self.open.len() - 1
            }
        }
    }

    /// The open file behind `handle`.
    pub(crate) fn file(&self, handle: usize) -> Result<&File, FileError> {
        self.open
            .get(handle)
            .and_then(|o| o.as_ref())
            .map(|(f, _)| f)
            .ok_or(FileError::Io)
    }
}

impl FileSource for RootDir {
    type Handle = usize;

    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        // Symbolic links are followed only while they stay inside the root.
        let real = self
            .root
            .join(path)
            .canonicalize()
            .map_err(|e| match e.kind() {
                ErrorKind::PermissionDenied => FileError::AccessDenied,
                _ => FileError::NotFound,
            })?;
        if !real.starts_with(&self.root) {
            return Err(FileError::AccessDenied);
        }
        let file = File::open(&real).map_err(|e| match e.kind() {
            ErrorKind::NotFound => FileError::NotFound,
            _ => FileError::AccessDenied,
        })?;
        let meta = file.metadata().map_err(|_| FileError::Io)?;
        if !meta.is_file() {
            return Err(FileError::AccessDenied);
        }
        Ok((self.insert(file, path), meta.len()))
    }

    fn read_at(&mut self, handle: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        self.file(handle)?
            .read_at(dst, offset)
            .map_err(|_| FileError::Io)
    }

    fn close(&mut self, handle: usize) {
        if let Some(slot) = self.open.get_mut(handle) {
            *slot = None;
        }
    }

    /// Creates an upload in the upload directory. The name must not exist
    /// (no overwrite; a symbolic link in its place counts as existing), and
    /// its folder must already exist inside the upload directory.
    fn create(&mut self, path: &str) -> Result<usize, FileError> {
        let uploads = self.uploads.as_ref().ok_or(FileError::AccessDenied)?;
        let full = uploads.join(path);
        let parent = full.parent().ok_or(FileError::AccessDenied)?;
        let real_parent = parent.canonicalize().map_err(|_| FileError::NotFound)?;
        if !real_parent.starts_with(uploads) {
            return Err(FileError::AccessDenied);
        }
        let name = full.file_name().ok_or(FileError::AccessDenied)?;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(real_parent.join(name));
        let file = created.map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => FileError::Exists,
            ErrorKind::StorageFull => FileError::Full,
            _ => FileError::AccessDenied,
        })?;
        Ok(self.insert(file, path))
    }

    fn write_at(&mut self, handle: usize, offset: u64, data: &[u8]) -> Result<(), FileError> {
        self.file(handle)?
            .write_all_at(data, offset)
            .map_err(|e| match e.kind() {
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded => FileError::Full,
                _ => FileError::Io,
            })
    }

    /// Keeps a complete upload (synced to disk); removes an incomplete one.
    fn finish(&mut self, handle: usize, complete: bool) {
        let Some(Some((file, path))) = self.open.get_mut(handle).map(Option::take) else {
            return;
        };
        if complete {
            let _ = file.sync_all();
        } else if let Some(uploads) = &self.uploads {
            let _ = std::fs::remove_file(uploads.join(path));
        }
    }
}
