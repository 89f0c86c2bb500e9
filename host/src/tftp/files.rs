//! Serving a directory to the core's TFTP server: paths arrive already
//! normalised (no `..`, no leading `/`); this adds what only a real file
//! system has: symbolic links, non-regular files, permissions, and a
//! separate directory for uploads. A name that is not in the directory
//! can still be served when a [`DynamicFiles`] source makes it (boot
//! configs rendered per request): those bytes are held in memory for the
//! transfer.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use awl_core::tftp::{FileError, FileSource};

/// Files that are made per request rather than read from the root (boot
/// configs and scripts rendered from the inventory). Asked only for a read
/// whose path names no file in the root, so a real file always wins.
///
/// Called on the TFTP engine's thread, once per such request: it must
/// answer quickly and never wait on the network (a render and a `stat` of
/// the inventory are fine).
pub trait DynamicFiles: Send + Sync {
    /// The bytes of `path` (normalised: no leading `/`, no `..`) for the
    /// machine at `peer`: [`FileError::NotFound`] when this source makes no
    /// such file (the client then gets ERROR 1, as for any missing file),
    /// another error when it does but cannot make it now.
    fn file(&self, path: &str, peer: IpAddr) -> Result<Vec<u8>, FileError>;
}

/// What a handle is: a file of the root (or an upload), or bytes made for
/// this transfer.
enum Opened {
    File(File),
    Memory(Vec<u8>),
}

/// Files under one root directory, read with positioned reads (the page
/// cache does the rest), and files made by a [`DynamicFiles`] source.
/// Handles index a table of open files.
pub struct RootDir {
    root: PathBuf,
    uploads: Option<PathBuf>,
    open: Vec<Option<(Opened, String)>>,
    dynamic: Option<Arc<dyn DynamicFiles>>,
    /// Who sent the request being handled (for [`DynamicFiles::file`]).
    peer: IpAddr,
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
            dynamic: None,
            peer: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        })
    }

    /// Also serves what `dynamic` makes, for names the root does not have.
    pub fn with_dynamic(mut self, dynamic: Option<Arc<dyn DynamicFiles>>) -> Self {
        self.dynamic = dynamic;
        self
    }

    /// Whether a [`DynamicFiles`] source is asked for missing names.
    pub fn has_dynamic(&self) -> bool {
        self.dynamic.is_some()
    }

    /// The address of the client whose datagram is handled next: the
    /// engine sets it before handing a request to the core, which opens
    /// the file while it handles that request.
    pub fn set_peer(&mut self, peer: IpAddr) {
        self.peer = peer;
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

    fn insert(&mut self, opened: Opened, path: &str) -> usize {
        let entry = Some((opened, path.to_string()));
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

    /// The open file behind `handle` (an error for bytes held in memory).
    pub(crate) fn file(&self, handle: usize) -> Result<&File, FileError> {
        match self.open.get(handle).and_then(|o| o.as_ref()) {
            Some((Opened::File(f), _)) => Ok(f),
            _ => Err(FileError::Io),
        }
    }

    /// Whether `handle` is a file of the root or an upload (not bytes held
    /// in memory): only those can be sent with `sendfile`.
    pub(crate) fn is_file(&self, handle: usize) -> bool {
        self.file(handle).is_ok()
    }

    /// A name the root does not have, from the [`DynamicFiles`] source.
    fn open_dynamic(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        let dynamic = self.dynamic.as_ref().ok_or(FileError::NotFound)?;
        let bytes = dynamic.file(path, self.peer)?;
        let size = bytes.len() as u64;
        Ok((self.insert(Opened::Memory(bytes), path), size))
    }
}

impl FileSource for RootDir {
    type Handle = usize;

    /// A file of the root; a name the root does not have (no file, no
    /// link, nothing at all) goes to the [`DynamicFiles`] source, if any.
    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        // Symbolic links are followed only while they stay inside the root.
        let real = match self.root.join(path).canonicalize() {
            Ok(real) => real,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(FileError::AccessDenied)
            }
            // A dangling symbolic link is still a name the root has.
            Err(_) if self.root.join(path).symlink_metadata().is_ok() => {
                return Err(FileError::NotFound)
            }
            Err(_) => return self.open_dynamic(path),
        };
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
        Ok((self.insert(Opened::File(file), path), meta.len()))
    }

    fn read_at(&mut self, handle: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        match self.open.get(handle).and_then(|o| o.as_ref()) {
            Some((Opened::File(f), _)) => f.read_at(dst, offset).map_err(|_| FileError::Io),
            Some((Opened::Memory(bytes), _)) => {
                let from = usize::try_from(offset).unwrap_or(usize::MAX);
                let rest = bytes.get(from..).unwrap_or_default();
                let n = rest.len().min(dst.len());
                dst[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
            None => Err(FileError::Io),
        }
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
        Ok(self.insert(Opened::File(file), path))
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
        let Some(Some((opened, path))) = self.open.get_mut(handle).map(Option::take) else {
            return;
        };
        let Opened::File(file) = opened else {
            return;
        };
        if complete {
            let _ = file.sync_all();
        } else if let Some(uploads) = &self.uploads {
            let _ = std::fs::remove_file(uploads.join(path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tftp::readahead::ReadAhead;

    /// Makes `made/NAME` (`made/missing` is not found, `made/broken`
    /// fails) and remembers who asked.
    struct Maker(std::sync::Mutex<Vec<(String, IpAddr)>>);

    impl DynamicFiles for Maker {
        fn file(&self, path: &str, peer: IpAddr) -> Result<Vec<u8>, FileError> {
            self.0.lock().unwrap().push((path.to_string(), peer));
            match path {
                "made/missing" => Err(FileError::NotFound),
                "made/broken" => Err(FileError::Io),
                _ => Ok(format!("made {path}\n").into_bytes()),
            }
        }
    }

    fn root(name: &str) -> (PathBuf, Arc<Maker>, ReadAhead) {
        let dir =
            std::env::temp_dir().join(format!("awl-tftp-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("made")).unwrap();
        std::fs::write(dir.join("made/real"), b"a real file\n").unwrap();
        let maker = Arc::new(Maker(std::sync::Mutex::new(Vec::new())));
        let dynamic: Arc<dyn DynamicFiles> = maker.clone();
        let mut files = RootDir::new(&dir, None)
            .unwrap()
            .with_dynamic(Some(dynamic));
        files.set_peer(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)));
        (dir, maker, ReadAhead::new(files))
    }

    fn read_all(files: &mut ReadAhead, handle: usize, size: u64, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = files.read_at(handle, out.len() as u64, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out.len() as u64, size);
        out
    }

    #[test]
    fn a_real_file_wins_and_a_missing_name_is_made() {
        let (dir, maker, mut files) = root("wins");
        let (real, size) = files.open("made/real").unwrap();
        assert_eq!(read_all(&mut files, real, size, 5), b"a real file\n");
        assert!(files.sends_from_file(real, 64 << 10));
        assert!(
            maker.0.lock().unwrap().is_empty(),
            "a real file is not made"
        );

        let (made, size) = files.open("made/x").unwrap();
        assert_ne!(made, real);
        assert_eq!(size, 12);
        assert_eq!(read_all(&mut files, made, size, 5), b"made made/x\n");
        assert_eq!(read_all(&mut files, made, size, 4096), b"made made/x\n");
        // Past the end: nothing; never sent from a file.
        assert_eq!(files.read_at(made, 100, &mut [0; 8]).unwrap(), 0);
        assert!(!files.sends_from_file(made, 64 << 10));
        assert!(files.root().file(made).is_err());
        assert_eq!(files.root().path(made), "made/x");
        assert_eq!(
            maker.0.lock().unwrap().as_slice(),
            [("made/x".to_string(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)))]
        );

        // The slot is reused once closed.
        files.close(made);
        let (again, _) = files.open("made/y").unwrap();
        assert_eq!(again, made);
        assert_eq!(read_all(&mut files, again, 12, 512), b"made made/y\n");
        files.close(again);
        files.close(real);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn what_the_source_refuses_stays_refused() {
        let (dir, _maker, mut files) = root("refused");
        assert_eq!(files.open("made/missing"), Err(FileError::NotFound));
        assert_eq!(files.open("made/broken"), Err(FileError::Io));
        // A directory is a name the root has: never made.
        assert_eq!(files.open("made"), Err(FileError::AccessDenied));
        // So is a dangling symbolic link.
        std::os::unix::fs::symlink("nowhere", dir.join("made/dangling")).unwrap();
        assert_eq!(files.open("made/dangling"), Err(FileError::NotFound));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn without_a_source_a_missing_name_is_not_found() {
        let dir = std::env::temp_dir().join(format!("awl-tftp-files-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = RootDir::new(&dir, None).unwrap();
        assert_eq!(files.open("boot.ipxe"), Err(FileError::NotFound));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
