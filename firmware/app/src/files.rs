//! Boot files in flash as a [`FileSource`] for the TFTP server: the handle
//! is the file's index in the packed table.

use awl_core::tftp::{FileError, FileSource};

use crate::packed::File;

/// The packed files.
#[derive(Debug, Clone, Copy)]
pub struct FlashFiles {
    files: &'static [File],
}

impl FlashFiles {
    /// Serves `files`.
    pub const fn new(files: &'static [File]) -> Self {
        Self { files }
    }

    /// The name of the file behind `handle` (for logs).
    pub fn name(&self, handle: u16) -> &'static str {
        self.files.get(usize::from(handle)).map_or("?", |f| f.name)
    }

    /// The file called `name`.
    pub fn find(&self, name: &str) -> Option<&'static File> {
        self.files.iter().find(|f| f.name == name)
    }
}

impl FileSource for FlashFiles {
    type Handle = u16;

    fn open(&mut self, path: &str) -> Result<(u16, u64), FileError> {
        let index = self
            .files
            .iter()
            .position(|f| f.name == path)
            .ok_or(FileError::NotFound)?;
        let handle = u16::try_from(index).map_err(|_| FileError::NotFound)?;
        let size = self.files.get(index).map_or(0, |f| f.bytes.len() as u64);
        Ok((handle, size))
    }

    fn read_at(&mut self, handle: u16, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let file = self.files.get(usize::from(handle)).ok_or(FileError::Io)?;
        let offset = usize::try_from(offset).map_err(|_| FileError::Io)?;
        let rest = file.bytes.get(offset..).unwrap_or(&[]);
        let n = rest.len().min(dst.len());
        if let (Some(dst), Some(src)) = (dst.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }
}
