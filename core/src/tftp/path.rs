//! Confining a requested filename to the served root, without touching a
//! file system: the result is a relative path made only of plain names.
//!
//! Rules (dnsmasq and tftp-hpa behave alike on the first three):
//! * a leading `/` means the root (`/boot/x` is `boot/x` under the root);
//! * `\` is a separator, as Windows clients send it;
//! * empty and `.` segments are dropped;
//! * any `..` segment is refused, even one that would stay inside the root
//!   (`a/../b`): nothing legitimate needs it, and refusing is simpler to
//!   trust than resolving;
//! * nothing is decoded: `%2e%2e` is a literal name.
//!
//! Symbolic links are the driver's concern (the host refuses any that lead
//! outside the root).

/// Why a filename was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PathError {
    /// A `..` segment.
    ParentSegment,
    /// The name is the root itself (empty after normalising).
    NoFile,
    /// The normalised path does not fit the buffer.
    TooLong,
}

impl PathError {
    /// A message for the TFTP ERROR sent back.
    pub fn message(&self) -> &'static str {
        match self {
            Self::ParentSegment => "access violation: '..' is not allowed in paths",
            Self::NoFile => "file not found: no file name",
            Self::TooLong => "file not found: path too long",
        }
    }
}

/// Normalises `requested` into `buf` and returns the relative path.
pub fn resolve<'b>(requested: &str, buf: &'b mut [u8]) -> Result<&'b str, PathError> {
    let mut len = 0usize;
    for segment in requested.split(['/', '\\']) {
        match segment {
            "" | "." => continue,
            ".." => return Err(PathError::ParentSegment),
            name => {
                let sep = usize::from(len != 0);
                let end = len.saturating_add(sep).saturating_add(name.len());
                let dst = buf.get_mut(len..end).ok_or(PathError::TooLong)?;
                let (slash, rest) = dst.split_at_mut(sep);
                slash.fill(b'/');
                rest.copy_from_slice(name.as_bytes());
                len = end;
            }
        }
    }
    if len == 0 {
        return Err(PathError::NoFile);
    }
    let bytes = buf.get(..len).ok_or(PathError::TooLong)?;
    // Only whole UTF-8 segments and ASCII slashes were copied.
    core::str::from_utf8(bytes).map_err(|_| PathError::NoFile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        let mut buf = [0u8; 256];
        resolve(input, &mut buf).unwrap().to_string()
    }

    fn err(input: &str) -> PathError {
        let mut buf = [0u8; 256];
        resolve(input, &mut buf).unwrap_err()
    }

    #[test]
    fn cve_t12_traversal_attempts_are_refused() {
        for name in [
            "../x",
            "a/../../x",
            "/../x",
            "..\\x",
            "a\\..\\..\\x",
            "subdir/../../disallowed.txt",
            "a/../b",
            "..",
        ] {
            assert_eq!(err(name), PathError::ParentSegment, "{name}");
        }
    }

    #[test]
    fn cve_t12_names_that_stay_inside() {
        assert_eq!(ok("/etc/passwd"), "etc/passwd");
        assert_eq!(ok("//etc/passwd"), "etc/passwd");
        assert_eq!(ok("a/./b"), "a/b");
        assert_eq!(ok("%2e%2e/x"), "%2e%2e/x");
        assert_eq!(
            ok("pxelinux.cfg\\01-52-54-00-aa-00-03"),
            "pxelinux.cfg/01-52-54-00-aa-00-03"
        );
        assert_eq!(ok("...."), "....");
        assert_eq!(ok("..x/y.."), "..x/y..");
        assert_eq!(ok("caf\u{e9}/\u{1f680}"), "caf\u{e9}/\u{1f680}");
    }

    #[test]
    fn root_and_overlong() {
        for name in ["/", "", ".", "/./", "\\"] {
            assert_eq!(err(name), PathError::NoFile, "{name:?}");
        }
        let mut small = [0u8; 4];
        assert_eq!(
            resolve("abcde", &mut small).unwrap_err(),
            PathError::TooLong
        );
        assert_eq!(
            resolve("ab/cd", &mut small).unwrap_err(),
            PathError::TooLong
        );
        assert_eq!(resolve("ab/c", &mut small).unwrap(), "ab/c");
    }
}
