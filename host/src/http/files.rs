//! Static trees: which file a path names (confined to its mount's root),
//! its validators (ETag, Last-Modified), conditional requests, and which
//! bytes of it a `Range` asks for.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use awl_core::tftp::path::{resolve, PathError};

use super::range::{self, Plan};
use super::send::{Body, Part, Response};
use super::{find_header, Method, Mount};

/// The mounts, longest prefix first, each root canonical.
pub(super) struct Site {
    mounts: Vec<(String, PathBuf)>,
}

/// Why a path gets no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// 404: no such file, a directory, or no mount for it.
    NotFound,
    /// 403: outside the root (through a symbolic link), or unreadable.
    Forbidden,
}

/// An open regular file and what the validators are made of.
pub(super) struct Opened {
    file: File,
    len: u64,
    /// `"inode-size-mtime_ns"` in hex: changes whenever the file does
    /// (replaced, resized or touched).
    etag: String,
    /// Whole seconds: what `Last-Modified` can say.
    modified: SystemTime,
    content_type: &'static str,
}

impl Site {
    /// Checks every root (it must be a directory) and orders the mounts.
    pub(super) fn new(mounts: &[Mount]) -> Result<Self> {
        let mut out = Vec::new();
        for m in mounts {
            anyhow::ensure!(
                m.prefix.starts_with('/') && m.prefix.ends_with('/'),
                "http: a mount's prefix starts and ends with / ({})",
                m.prefix
            );
            let root = m
                .root
                .canonicalize()
                .with_context(|| format!("http: {} (for {})", m.root.display(), m.prefix))?;
            anyhow::ensure!(
                root.is_dir(),
                "http: {} (for {}) is not a directory",
                root.display(),
                m.prefix
            );
            out.push((m.prefix.clone(), root));
        }
        out.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self { mounts: out })
    }

    /// Opens the file `path` names. `path` is decoded and has no `..`
    /// segment, NUL or backslash ([`super::check_path`]).
    pub(super) fn open(&self, path: &str) -> Result<Opened, Refused> {
        let (prefix, root) = self
            .mounts
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .ok_or(Refused::NotFound)?;
        let mut buf = vec![0u8; path.len()];
        let relative = resolve(&path[prefix.len()..], &mut buf).map_err(|e| match e {
            PathError::ParentSegment => Refused::Forbidden,
            PathError::NoFile | PathError::TooLong => Refused::NotFound,
        })?;
        open_inside(root, relative)
    }
}

/// Opens `relative` under the canonical `root`; symbolic links are
/// followed only while they stay inside it.
fn open_inside(root: &Path, relative: &str) -> Result<Opened, Refused> {
    let refused = |e: std::io::Error| match e.kind() {
        ErrorKind::PermissionDenied => Refused::Forbidden,
        _ => Refused::NotFound,
    };
    let real = root.join(relative).canonicalize().map_err(refused)?;
    if !real.starts_with(root) {
        return Err(Refused::Forbidden);
    }
    let file = File::open(&real).map_err(refused)?;
    let meta = file.metadata().map_err(refused)?;
    if !meta.is_file() {
        return Err(Refused::NotFound);
    }
    let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    let modified = u64::try_from(meta.mtime())
        .map_or(UNIX_EPOCH, |secs| UNIX_EPOCH + Duration::from_secs(secs));
    Ok(Opened {
        file,
        len: meta.len(),
        etag: format!("\"{:x}-{:x}-{:x}\"", meta.ino(), meta.len(), mtime_ns),
        modified,
        content_type: content_type(relative),
    })
}

/// The answer for a file: conditionals first (RFC 9110 §13.2.2), then
/// `Range` (GET only).
pub(super) fn answer(
    opened: Opened,
    method: Method,
    headers: &[(&str, &[u8])],
    max_ranges: usize,
) -> Response {
    let header = |name: &str| find_header(headers, name);
    let mut headers = vec![
        ("ETag".to_string(), opened.etag.clone()),
        (
            "Last-Modified".to_string(),
            httpdate::fmt_http_date(opened.modified),
        ),
    ];
    let not_modified = match header("if-none-match") {
        Some(tags) => etag_listed(tags, &opened.etag),
        None => header("if-modified-since")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .is_some_and(|since| opened.modified <= since),
    };
    if not_modified {
        return Response::new(304, headers, Body::None);
    }
    headers.push(("Accept-Ranges".to_string(), "bytes".to_string()));
    let len = opened.len;
    let ranges = match header("range") {
        Some(r) if method == Method::Get && if_range_holds(header("if-range"), &opened) => {
            range::plan(r, len, max_ranges)
        }
        _ => Plan::Full,
    };
    let content_type = opened.content_type;
    let file = opened.file;
    match ranges {
        Plan::Full => {
            headers.push(("Content-Type".to_string(), content_type.to_string()));
            Response::new(
                200,
                headers,
                Body::File {
                    file,
                    start: 0,
                    len,
                },
            )
        }
        Plan::Unsatisfiable => {
            headers.push(("Content-Range".to_string(), format!("bytes */{len}")));
            Response::error(416).with_headers(headers)
        }
        Plan::Parts(parts) if parts.len() == 1 => {
            let (start, end) = parts[0];
            headers.push(("Content-Type".to_string(), content_type.to_string()));
            headers.push((
                "Content-Range".to_string(),
                format!("bytes {start}-{}/{len}", end - 1),
            ));
            let len = end - start;
            Response::new(206, headers, Body::File { file, start, len })
        }
        Plan::Parts(parts) => {
            let boundary = boundary(&opened.etag, &parts);
            headers.push((
                "Content-Type".to_string(),
                format!("multipart/byteranges; boundary={boundary}"),
            ));
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, &(start, end))| Part {
                    head: format!(
                        "{}--{boundary}\r\nContent-Type: {content_type}\r\n\
                         Content-Range: bytes {start}-{}/{len}\r\n\r\n",
                        if i == 0 { "" } else { "\r\n" },
                        end - 1
                    ),
                    start,
                    len: end - start,
                })
                .collect();
            let tail = format!("\r\n--{boundary}--\r\n");
            Response::new(206, headers, Body::Parts { file, parts, tail })
        }
    }
}

/// Whether `If-Range` (when sent) still names this version: a strong ETag
/// equal to ours, or exactly our `Last-Modified`.
fn if_range_holds(if_range: Option<&str>, opened: &Opened) -> bool {
    match if_range {
        None => true,
        Some(v) if v.starts_with('"') => v == opened.etag,
        Some(v) if v.starts_with("W/") => false,
        Some(v) => httpdate::parse_http_date(v).is_ok_and(|d| d == opened.modified),
    }
}

/// Whether the `If-None-Match` list names `etag` (weak comparison), or is
/// `*`.
fn etag_listed(list: &str, etag: &str) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        let Some(body) = tag.strip_prefix('"') else {
            return false;
        };
        let Some(close) = body.find('"') else {
            return false;
        };
        if &tag[..close + 2] == etag {
            return true;
        }
        rest = &body[close + 1..];
    }
}

/// A multipart boundary that depends on the file's version and the ranges
/// (so it differs between responses), in hex.
fn boundary(etag: &str, parts: &[(u64, u64)]) -> String {
    use std::hash::BuildHasher;
    let hash = std::collections::hash_map::RandomState::new().hash_one((etag, parts));
    format!("awl-{hash:016x}")
}

/// `Content-Type` by file name.
pub(super) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "ipxe" | "cfg" | "txt" | "ks" | "seed" | "preseed" | "conf" | "sh" | "cmdline" => {
            "text/plain"
        }
        "json" => "application/json",
        "yaml" | "yml" => "application/yaml",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        // .efi .kpxe .pxe .0 .img .iso .gz .xz .squashfs, vmlinuz, initrd…
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::tests::Tree;

    /// `root/sub/a.ipxe`, a secret beside `root`, and links from inside
    /// `root` to inside and outside it.
    fn tree() -> Tree {
        let tree = Tree::new("files");
        let dir = &tree.0;
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        std::fs::write(dir.join("root/sub/a.ipxe"), "#!ipxe\n").unwrap();
        std::fs::write(dir.join("secret"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("root/out")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("root/etc")).unwrap();
        std::os::unix::fs::symlink("sub/a.ipxe", dir.join("root/in")).unwrap();
        tree
    }

    fn site(tree: &Tree) -> Site {
        Site::new(&[Mount {
            prefix: "/boot/".into(),
            root: tree.0.join("root"),
        }])
        .unwrap()
    }

    fn refused(site: &Site, path: &str) -> Refused {
        site.open(path)
            .err()
            .unwrap_or_else(|| panic!("{path} opened"))
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let tree = tree();
        let site = site(&tree);
        assert_eq!(site.open("/boot/sub/a.ipxe").unwrap().len, 7);
        assert_eq!(site.open("/boot//sub/./a.ipxe").unwrap().len, 7);
        // A link inside the root to a file inside it is fine.
        assert_eq!(site.open("/boot/in").unwrap().len, 7);
        // Links that lead out of the root.
        assert_eq!(refused(&site, "/boot/out"), Refused::Forbidden);
        assert_eq!(refused(&site, "/boot/etc/passwd"), Refused::Forbidden);
        assert_eq!(refused(&site, "/boot/etc"), Refused::Forbidden);
        // Directories, missing files, no mount, the mount itself.
        assert_eq!(refused(&site, "/boot/sub"), Refused::NotFound);
        assert_eq!(refused(&site, "/boot/sub/"), Refused::NotFound);
        assert_eq!(refused(&site, "/boot/"), Refused::NotFound);
        assert_eq!(refused(&site, "/boot"), Refused::NotFound);
        assert_eq!(refused(&site, "/boot/nope"), Refused::NotFound);
        assert_eq!(refused(&site, "/sub/a.ipxe"), Refused::NotFound);
        // (`..` is refused before a path gets here; should one arrive:)
        assert_eq!(refused(&site, "/boot/../secret"), Refused::Forbidden);
    }

    #[test]
    fn longest_prefix_wins() {
        let tree = tree();
        let site = Site::new(&[
            Mount {
                prefix: "/".into(),
                root: tree.0.clone(),
            },
            Mount {
                prefix: "/boot/".into(),
                root: tree.0.join("root"),
            },
        ])
        .unwrap();
        assert_eq!(site.open("/secret").unwrap().len, 6);
        assert_eq!(site.open("/boot/sub/a.ipxe").unwrap().len, 7);
        assert_eq!(refused(&site, "/boot/secret"), Refused::NotFound);
        assert!(Site::new(&[Mount {
            prefix: "/x/".into(),
            root: tree.0.join("secret"),
        }])
        .is_err());
    }

    #[test]
    fn if_none_match_lists() {
        let etag = "\"1-2-3\"";
        assert!(etag_listed("\"1-2-3\"", etag));
        assert!(etag_listed("W/\"1-2-3\"", etag));
        assert!(etag_listed("\"x\", W/\"y\" ,\"1-2-3\"", etag));
        assert!(etag_listed(" * ", etag));
        assert!(!etag_listed("\"1-2-4\"", etag));
        assert!(!etag_listed("1-2-3", etag));
        assert!(!etag_listed("\"1-2-3", etag));
        assert!(!etag_listed("", etag));
    }

    #[test]
    fn validators_and_conditionals() {
        let tree = tree();
        let site = site(&tree);
        let opened = || site.open("/boot/sub/a.ipxe").unwrap();
        let etag = opened().etag;
        let date = httpdate::fmt_http_date(opened().modified);
        let status = |method: Method, headers: &[(&str, &str)]| {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            answer(opened(), method, &headers, 16).status
        };
        let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
        assert_eq!(status(Method::Get, &[]), 200);
        assert_eq!(status(Method::Get, &[("If-None-Match", &etag)]), 304);
        assert_eq!(status(Method::Head, &[("if-none-match", "\"x\"")]), 200);
        assert_eq!(status(Method::Get, &[("If-Modified-Since", &date)]), 304);
        assert_eq!(status(Method::Get, &[("If-Modified-Since", epoch)]), 200);
        assert_eq!(
            status(Method::Get, &[("If-Modified-Since", "no date")]),
            200
        );
        // If-None-Match wins over If-Modified-Since.
        let both = [("If-None-Match", "\"x\""), ("If-Modified-Since", &date)];
        assert_eq!(status(Method::Get, &both), 200);
        fn range(if_range: &str) -> [(&str, &str); 2] {
            [("Range", "bytes=0-1"), ("If-Range", if_range)]
        }
        assert_eq!(status(Method::Get, &[("Range", "bytes=0-1")]), 206);
        // HEAD ignores Range.
        assert_eq!(status(Method::Head, &[("Range", "bytes=0-1")]), 200);
        assert_eq!(status(Method::Get, &range(&etag)), 206);
        assert_eq!(status(Method::Get, &range("\"0-0-0\"")), 200);
        assert_eq!(status(Method::Get, &range(&format!("W/{etag}"))), 200);
        assert_eq!(status(Method::Get, &range(&date)), 206);
        assert_eq!(status(Method::Get, &range(epoch)), 200);
        assert_eq!(status(Method::Get, &[("Range", "bytes=7-")]), 416);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("boot.ipxe"), "text/plain");
        assert_eq!(content_type("d/ks.CFG"), "text/plain");
        assert_eq!(content_type("ipxe.efi"), "application/octet-stream");
        assert_eq!(content_type("pxelinux.0"), "application/octet-stream");
        assert_eq!(content_type("install/vmlinuz"), "application/octet-stream");
        assert_eq!(content_type("a.json"), "application/json");
        assert_eq!(content_type("user-data.yaml"), "application/yaml");
        assert_eq!(content_type("x.d/index.html"), "text/html");
    }
}
