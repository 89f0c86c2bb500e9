//! Adding at the end: a new system is appended to the inventory file, and
//! whoever read the file before reads only what was appended.
//!
//! At 10,000 systems the file is some 2.6 MB of TOML; reading and checking
//! it whole takes a few hundred milliseconds, and an edit used to do that
//! twice. An *add* needs none of it:
//!
//! * A version of the file that was read whole carries a [`Source`]: its
//!   length, line count and SHA-256, when every list in it is written as
//!   `[[tables]]` (so more `[[system]]` tables may follow it in TOML).
//! * [`parse_appended`] reads a newer text that *starts with* that version
//!   (same bytes, checked by the hash): only the tail is read, alone, with
//!   the lines it has in the file; it must be whole `[[distro]]`,
//!   `[[profile]]` or `[[system]]` tables that read without a problem, and
//!   the old entries with the new ones must pass the same checks
//!   as a full read. Anything else (`None`) is read the slow way, which
//!   gives the same answer and every problem with its line.
//! * The running server keeps the last version it read and so reads only
//!   the tail after an `awl system add`. A new `awl` process has read
//!   nothing, so every edit leaves a [`Digest`] beside the file
//!   (`.FILE.digest`): what the checks of a new system need (distros,
//!   profiles, `[unknown]`, and each system's name, profile, netboot,
//!   UUID and interfaces; no variables, no secrets), for the version it
//!   describes by length and hash. A digest that does not describe the
//!   current file (a hand edit, an older awl, a crash before it was
//!   written) is simply not used.
//!
//! What an add appends is what rewriting the whole file would have written
//! (the writer puts systems last), so the file stays the one a full rewrite
//! makes, and edits other than adds still read and write it whole.

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::check::{CheckContext, Report};
use super::file;
use super::model::{Interface, Inventory, Place, Pos, System, Vars};

/// The text a version of the inventory was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its length in bytes.
    pub len: usize,
    /// Its line count (it ends with a newline).
    pub lines: usize,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

impl Source {
    /// `text`'s, when entries may be appended to it: it ends with a
    /// newline (the caller knows its lists are tables).
    pub fn of(text: &str) -> Option<Self> {
        text.ends_with('\n').then(|| Self {
            len: text.len(),
            lines: count_lines(text),
            sha256: Sha256::digest(text.as_bytes()).into(),
        })
    }
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'\n').count()
}

/// `text` read as `base`'s text with entries appended, reading only the
/// entries; `None` when it is not that (then read it whole). The result
/// is checked in `ctx` like a full read, and carries `text`'s [`Source`].
pub fn parse_appended(
    base: &Inventory,
    text: &str,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> Option<Inventory> {
    let source = base.source.as_ref()?;
    let prefix = text.as_bytes().get(..source.len)?;
    let tail = text.get(source.len..)?;
    if tail.is_empty() {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(prefix);
    if <[u8; 32]>::from(hash.clone().finalize()) != source.sha256 {
        return None;
    }
    let mut report = Report::new(path);
    let (added, shape) = file::read_at(tail, source.lines, path, &mut report)?;
    if !report.problems.is_empty() || !shape.lists_as_tables || shape.has_unknown {
        return None;
    }
    let mut all = base.clone();
    all.distros.extend(added.distros);
    all.profiles.extend(added.profiles);
    all.systems.extend(added.systems);
    all.path = path.map(Path::to_path_buf);
    if !all.check(ctx).is_empty() {
        return None;
    }
    hash.update(tail.as_bytes());
    all.source = tail.ends_with('\n').then(|| Source {
        len: text.len(),
        lines: source.lines + count_lines(tail),
        sha256: hash.finalize().into(),
    });
    Some(all)
}

/// What a new `awl` process needs to append a system without reading the
/// file: see the module docs. Stored as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub struct Digest {
    /// The awl that wrote it (another version's digest is not used).
    awl: String,
    /// The [`Source`] of the version it describes.
    len: usize,
    lines: usize,
    sha256: String,
    /// Distros, profiles and `[unknown]`, as the file writes them.
    head: String,
    /// Each system, in file order.
    systems: Vec<DigestSystem>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DigestSystem {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    netboot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    /// The line of its `[[system]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    interfaces: Vec<(String, Option<Ipv4Addr>, Option<String>)>,
}

impl Digest {
    /// `inventory`'s, when it has a [`Source`].
    pub fn of(inventory: &Inventory) -> Option<Self> {
        let source = inventory.source.as_ref()?;
        let head = Inventory {
            unknown: inventory.unknown.clone(),
            distros: inventory.distros.clone(),
            profiles: inventory.profiles.clone(),
            ..Inventory::default()
        };
        let systems = inventory
            .systems
            .iter()
            .map(|s| DigestSystem {
                name: s.name.clone(),
                profile: s.profile.clone(),
                netboot: s.netboot.map(|n| n.to_string()),
                uuid: s.uuid.map(|u| u.to_string()),
                line: s.place.table.map(|p| p.line),
                interfaces: s
                    .interfaces
                    .iter()
                    .map(|i| (i.mac.to_string(), i.ip, i.hostname.clone()))
                    .collect(),
            })
            .collect();
        Some(Self {
            awl: env!("CARGO_PKG_VERSION").into(),
            len: source.len,
            lines: source.lines,
            sha256: hex::encode(source.sha256),
            head: file::to_toml(&head).ok()?,
            systems,
        })
    }

    /// The inventory it describes, with each system's variables, secrets
    /// and kernel arguments left out; `None` when it cannot be used.
    pub fn inventory(&self, path: &Path) -> Option<Inventory> {
        if self.awl != env!("CARGO_PKG_VERSION") {
            return None;
        }
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&self.sha256, &mut sha256).ok()?;
        let mut inventory = file::parse(&self.head, Some(path)).ok()?;
        for s in &self.systems {
            let interfaces = s
                .interfaces
                .iter()
                .map(|(mac, ip, hostname)| {
                    Some(Interface {
                        mac: mac.parse().ok()?,
                        ip: *ip,
                        hostname: hostname.clone(),
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            inventory.systems.push(System {
                name: s.name.clone(),
                profile: s.profile.clone(),
                netboot: match &s.netboot {
                    Some(n) => Some(n.parse().ok()?),
                    None => None,
                },
                uuid: match &s.uuid {
                    Some(u) => Some(u.parse().ok()?),
                    None => None,
                },
                kernel_args: String::new(),
                interfaces,
                vars: Vars::new(),
                secrets: Vars::new(),
                place: Place {
                    table: s.line.map(|line| Pos { line, column: 1 }),
                    ..Place::default()
                },
            });
        }
        inventory.source = Some(Source {
            len: self.len,
            lines: self.lines,
            sha256,
        });
        Some(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"[[distro]]
name = "d"
kernel = "d/linux"
initrd = ["d/initrd.gz"]
family = "debian"

[[profile]]
name = "p"
distro = "d"
template = "preseed"

[[system]]
name = "a"
profile = "p"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.1"

[system.vars]
role = "x"
"#;

    fn base() -> Inventory {
        let inv = file::parse(BASE, None).unwrap();
        assert!(inv.source.is_some());
        inv
    }

    fn appended(tail: &str) -> Option<Inventory> {
        parse_appended(
            &base(),
            &format!("{BASE}{tail}"),
            None,
            &CheckContext::default(),
        )
    }

    const B: &str = "\n[[system]]\nname = \"b\"\nprofile = \"p\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:02\"\n\n[system.secrets]\nk = \"v\"\n";

    #[test]
    fn an_appended_system_reads_as_the_whole_file_does() {
        let text = format!("{BASE}{B}");
        let fast = appended(B).expect("read the tail alone");
        let slow = file::parse(&text, None).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.source, slow.source);
        let b = fast.system("b").unwrap();
        assert_eq!(b.place.table, slow.system("b").unwrap().place.table);
        assert_eq!(b.place.table.unwrap().line, 23);
        // And the next append builds on it.
        let c = "\n[[system]]\nname = \"c\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:03\"\n";
        let next = parse_appended(&fast, &format!("{text}{c}"), None, &CheckContext::default());
        assert_eq!(next.unwrap().systems.len(), 3);
    }

    #[test]
    fn anything_but_whole_valid_entries_is_read_the_slow_way() {
        for tail in [
            // Keys that would land in the last table of the file.
            "role = \"y\"\n",
            // Tables that extend entries of the file.
            "[system.secrets]\nk = \"v\"\n",
            "[[system.interface]]\nmac = \"52:54:00:00:00:09\"\n",
            // Not lists of tables.
            "[unknown]\naction = \"local\"\n",
            "[[system]]\nname = \"b\"\nmac = \"x\"\n",
            // Valid alone, not with the rest: a taken name, MAC, a missing profile.
            "[[system]]\nname = \"a\"\n[[system.interface]]\nmac = \"52:54:00:00:00:07\"\n",
            "[[system]]\nname = \"b\"\n[[system.interface]]\nmac = \"52:54:00:00:00:01\"\n",
            "[[system]]\nname = \"b\"\nprofile = \"q\"\n[[system.interface]]\nmac = \"52:54:00:00:00:08\"\n",
            // Nothing appended.
            "",
        ] {
            assert!(appended(tail).is_none(), "{tail:?}");
        }
        // A changed prefix.
        let changed = format!("{}{B}", BASE.replace("role = \"x\"", "role = \"z\""));
        assert!(parse_appended(&base(), &changed, None, &CheckContext::default()).is_none());
        // Lists written inline cannot be appended to.
        let inline = "system = [{ name = \"a\", interface = [{ mac = \"52:54:00:00:00:01\" }] }]\n";
        let inv = file::parse(inline, None).unwrap();
        assert!(inv.source.is_none());
    }

    #[test]
    fn a_digest_stands_for_the_file_without_its_secrets() {
        let whole = file::parse(&format!("{BASE}{B}"), None).unwrap();
        let json = serde_json::to_string(&Digest::of(&whole).unwrap()).unwrap();
        assert!(
            !json.contains("role") && !json.contains("secrets"),
            "{json}"
        );
        let digest: Digest = serde_json::from_str(&json).unwrap();
        let inv = digest.inventory(Path::new("inv.toml")).unwrap();
        assert_eq!(inv.source, whole.source);
        assert_eq!(inv.systems.len(), 2);
        assert_eq!(inv.systems[0].interfaces, whole.systems[0].interfaces);
        assert_eq!(inv.profiles, whole.profiles);
        assert!(inv.systems[1].secrets.is_empty());
    }
}
