//! Adding at the end: a new system is appended to the inventory file, and
//! whoever read the file before reads only what was appended. (Changing
//! one system in its own lines, and reading such a change: [`super::splice`].)
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
//!   nothing, so every edit leaves a [`super::digest`] beside the file
//!   (`.FILE.digest`): what the checks of a new system need (distros,
//!   profiles, `[unknown]`, and each system's name, profile, netboot,
//!   UUID and interfaces; no system variables, no secrets), for the
//!   version it describes by length and hash. A digest that does not
//!   describe the current file or a prefix of it (a hand edit, an older
//!   awl, a crash before it was written) is simply not used.
//!
//! What an add appends is what rewriting the whole file would have written
//! (the writer puts systems last), so the file stays the one a full rewrite
//! makes.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::check::{CheckContext, Report};
use super::file;
use super::model::{count_lines, Inventory, Source};

/// `text` read as `base`'s text with entries appended, reading only the
/// entries; `None` when it is not that (then read it whole). The result
/// is checked in `ctx` like a full read, and carries `text`'s [`Source`].
pub fn parse_appended(
    base: &Inventory,
    text: &str,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> Option<Inventory> {
    let mut all = base.clone();
    read_appended(&mut all, text, path, ctx).then_some(all)
}

/// [`parse_appended`] in place: `inventory` gets the entries appended in
/// `text` (true), or stays as it was (false).
pub fn read_appended(
    inventory: &mut Inventory,
    text: &str,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> bool {
    let Some(source) = inventory.source.clone() else {
        return false;
    };
    let (Some(prefix), Some(tail)) = (text.as_bytes().get(..source.len), text.get(source.len..))
    else {
        return false;
    };
    // A byte-order mark is dropped at the start of a text read alone,
    // and is an error in the middle of the file.
    if tail.is_empty() || tail.starts_with('\u{feff}') {
        return false;
    }
    let mut hash = Sha256::new();
    hash.update(prefix);
    if <[u8; 32]>::from(hash.clone().finalize()) != source.sha256 {
        return false;
    }
    let mut report = Report::new(path);
    let Some((added, shape)) = file::read_at(tail, source.lines, path, &mut report) else {
        return false;
    };
    if !report.problems.is_empty() || !shape.lists_as_tables || shape.has_unknown {
        return false;
    }
    let had = (
        inventory.distros.len(),
        inventory.profiles.len(),
        inventory.systems.len(),
    );
    inventory.distros.extend(added.distros);
    inventory.profiles.extend(added.profiles);
    inventory.systems.extend(added.systems);
    if !inventory.check(ctx).is_empty() {
        inventory.distros.truncate(had.0);
        inventory.profiles.truncate(had.1);
        inventory.systems.truncate(had.2);
        return false;
    }
    hash.update(tail.as_bytes());
    inventory.path = path.map(Path::to_path_buf);
    inventory.source = tail.ends_with('\n').then(|| Source {
        len: text.len(),
        lines: source.lines + count_lines(tail),
        sha256: hash.finalize().into(),
    });
    true
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) const BASE: &str = r#"[[distro]]
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

    pub(crate) const B: &str = "\n[[system]]\nname = \"b\"\nprofile = \"p\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:02\"\n\n[system.secrets]\nk = \"v\"\n";

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
            // Nothing appended, or a byte-order mark (dropped at the start
            // of a text read alone; an error in the middle of the file).
            "",
            "\u{feff}[[system]]\nname = \"b\"\n[[system.interface]]\nmac = \"52:54:00:00:00:08\"\n",
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
}
