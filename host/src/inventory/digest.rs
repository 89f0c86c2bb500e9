//! The digest: what a new `awl` process needs to append a system without
//! reading the file (see [`super::append`]). Text, built to be appended to
//! as the inventory is:
//!
//! ```text
//! awl-digest 0.1.0  LEN LINES SHA256 BODY-LEN BODY-SHA256   (fixed width)
//! "[[distro]]\nname = ..."     distros, profiles, [unknown] as TOML, in a JSON string
//! NAME<TAB>PROFILE<TAB>NETBOOT<TAB>UUID<TAB>LINE<TAB>MAC|IP|HOST,MAC|IP|HOST
//! ...                                               one line per system
//! ```
//!
//! The header's `LEN LINES SHA256` are the [`Source`] of the inventory
//! text it describes, `BODY` the length and SHA-256 of the lines after the
//! header that belong to it (anything after them is ignored). An add appends its
//! system's line, then rewrites the header in place: a crash in between
//! leaves a header that describes the previous text, which the file no
//! longer is, so the digest is not used.

use std::net::Ipv4Addr;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::file;
use super::model::{Interface, Inventory, Place, Pos, Source, System, Vars};

const MAGIC: &str = "awl-digest";

/// The header's length in bytes (it is rewritten in place).
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 16 + 1 + 20 + 1 + 20 + 1 + 64 + 1 + 20 + 1 + 64 + 1;

/// The header for `source` with `body` (the lines after the header;
/// their length and SHA-256 are in it, so lines that did not reach
/// the disk before the header did are seen).
pub fn header(source: &Source, body: &[u8]) -> String {
    let line = format!(
        "{MAGIC} {:<16} {:020} {:020} {} {:020} {}\n",
        env!("CARGO_PKG_VERSION"),
        source.len,
        source.lines,
        hex::encode(source.sha256),
        body.len(),
        hex::encode(Sha256::digest(body)),
    );
    debug_assert_eq!(line.len(), HEADER_LEN);
    line
}

/// The lines of `systems` (of a valid inventory: names, profiles and
/// hostnames hold no tab, comma, bar or newline).
pub fn lines(systems: &[System]) -> String {
    let mut out = String::new();
    for s in systems {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let interfaces: Vec<String> = s
            .interfaces
            .iter()
            .map(|i| {
                format!(
                    "{}|{}|{}",
                    i.mac,
                    opt(i.ip.map(|ip| ip.to_string())),
                    opt(i.hostname.clone())
                )
            })
            .collect();
        out += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            s.name,
            opt(s.profile.clone()),
            opt(s.netboot.map(|n| n.to_string())),
            opt(s.uuid.map(|u| u.to_string())),
            s.place.table.map_or(0, |p| p.line),
            interfaces.join(",")
        );
    }
    out
}

/// The whole digest of `inventory`, when it has a [`Source`].
pub fn text(inventory: &Inventory) -> Option<String> {
    let source = inventory.source.as_ref()?;
    let head = Inventory {
        unknown: inventory.unknown.clone(),
        distros: inventory.distros.clone(),
        profiles: inventory.profiles.clone(),
        ..Inventory::default()
    };
    let mut body = serde_json::to_string(&file::to_toml(&head).ok()?).ok()?;
    body.push('\n');
    body += &lines(&inventory.systems);
    Some(header(source, body.as_bytes()) + &body)
}

/// The inventory `bytes` (a digest) describes, with each system's
/// variables, secrets and kernel arguments left out, and where its
/// body ends; `None` when it cannot be used. Whether it describes the
/// current file is for the caller to see.
pub fn read(bytes: &[u8], path: &Path) -> Option<(Inventory, usize)> {
    let header = std::str::from_utf8(bytes.get(..HEADER_LEN)?).ok()?;
    let mut words = header.split_ascii_whitespace();
    if words.next()? != MAGIC || words.next()? != env!("CARGO_PKG_VERSION") {
        return None;
    }
    let len = words.next()?.parse().ok()?;
    let lines = words.next()?.parse().ok()?;
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(words.next()?, &mut sha256).ok()?;
    let body_len: usize = words.next()?.parse().ok()?;
    let mut body_sha = [0u8; 32];
    hex::decode_to_slice(words.next()?, &mut body_sha).ok()?;
    let end = HEADER_LEN.checked_add(body_len)?;
    let body = bytes.get(HEADER_LEN..end)?;
    if <[u8; 32]>::from(Sha256::digest(body)) != body_sha {
        return None;
    }
    let body = std::str::from_utf8(body).ok()?;
    let (head, systems) = body.split_once('\n')?;
    let head: String = serde_json::from_str(head).ok()?;
    let mut inventory = file::parse(&head, Some(path)).ok()?;
    for line in systems.lines() {
        inventory.systems.push(system(line)?);
    }
    inventory.source = Some(Source { len, lines, sha256 });
    Some((inventory, end))
}

fn system(line: &str) -> Option<System> {
    let mut f = line.split('\t');
    let mut next = || f.next();
    let some = |t: &str| (!t.is_empty()).then(|| t.to_string());
    let (name, profile, netboot, uuid, at, interfaces) =
        (next()?, next()?, next()?, next()?, next()?, next()?);
    let interfaces = interfaces
        .split(',')
        .filter(|i| !i.is_empty())
        .map(|i| {
            let mut parts = i.split('|');
            let (mac, ip, hostname) = (parts.next()?, parts.next()?, parts.next()?);
            Some(Interface {
                mac: mac.parse().ok()?,
                ip: match ip {
                    "" => None,
                    ip => Some(ip.parse::<Ipv4Addr>().ok()?),
                },
                hostname: some(hostname),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let line: usize = at.parse().ok()?;
    Some(System {
        name: name.to_string(),
        profile: some(profile),
        netboot: match netboot {
            "" => None,
            n => Some(n.parse().ok()?),
        },
        boot_file: None,
        uuid: match uuid {
            "" => None,
            u => Some(u.parse().ok()?),
        },
        kernel_args: String::new(),
        interfaces,
        vars: Vars::new(),
        secrets: Vars::new(),
        place: Place {
            table: (line > 0).then_some(Pos { line, column: 1 }),
            ..Place::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::inventory::append::tests::{B, BASE};

    #[test]
    fn a_digest_stands_for_the_file_without_its_secrets() {
        let whole = file::parse(&format!("{BASE}{B}"), None).unwrap();
        let text = text(&whole).unwrap();
        assert!(
            !text.contains("role") && !text.contains("secrets"),
            "{text}"
        );
        let (inv, end) = read(text.as_bytes(), Path::new("inv.toml")).unwrap();
        assert_eq!(end, text.len());
        assert_eq!(inv.source, whole.source);
        assert_eq!(inv.systems.len(), 2);
        assert_eq!(inv.systems[0].interfaces, whole.systems[0].interfaces);
        assert_eq!(inv.systems[1].place.table.unwrap().line, 23);
        assert_eq!(inv.profiles, whole.profiles);
        assert!(inv.systems[1].secrets.is_empty());
        // Bytes after the body are not part of it; a torn header is no digest.
        let longer = format!("{text}junk\tline\n");
        assert_eq!(
            read(longer.as_bytes(), Path::new("x"))
                .unwrap()
                .0
                .systems
                .len(),
            2
        );
        assert!(read(&text.as_bytes()[..40], Path::new("x")).is_none());
        let other = text.replacen("52:54:00:00:00:02", "52:54:00:00:00:03", 1);
        assert!(
            read(other.as_bytes(), Path::new("x")).is_none(),
            "body hash"
        );
        let other = text.replacen("awl-digest", "awl-digesT", 1);
        assert!(read(other.as_bytes(), Path::new("x")).is_none());
    }
}
