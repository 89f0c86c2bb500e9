//! The host's parsers of text a client or a hand edit controls, none of
//! which may panic: the HTTP `Range` planner (with its invariants: parts
//! ascending, disjoint, inside the file, at most `max_ranges`, never more
//! bytes than the file), kernel command lines, the inventory file, the
//! boot-config names loaders ask for, the API's inventory edits from a
//! JSON body (on an inventory that holds one of each entry), request
//! `Content-Length` fields, installers' syslog lines, entries appended
//! to an inventory file (read alone, they must read as the whole file
//! does), one system of such a file changed in its own lines (what is
//! written must read as the whole file changed), and a file with some
//! bytes among its systems changed, read as a change to the version held
//! (a running server's read after an edit: what it makes must be what a
//! whole read makes). The first byte picks the parser.
#![no_main]

use awl::http::range::{plan, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 8 {
        0 => {
            let len = u64::from(which) * 977;
            let max = usize::from(which % 17);
            if let Plan::Parts(parts) = plan(text, len, max) {
                assert!(!parts.is_empty() && parts.len() <= max.max(1));
                let mut total = 0u64;
                for (i, &(start, end)) in parts.iter().enumerate() {
                    assert!(start < end && end <= len, "{parts:?} of {len}");
                    if i > 0 {
                        assert!(parts[i - 1].1 < start, "merged: {parts:?}");
                    }
                    total += end - start;
                }
                assert!(total <= len);
            }
        }
        1 => {
            let _ = awl::inventory::kernel_args::parse(text);
        }
        2 => {
            let _ = awl::inventory::file::parse(text, None);
        }
        3 => {
            let _ = awl::render::parse_boot_config_path(text);
        }
        4 => {
            use awl::api::inventory::{edit, Change, Kind};
            let Ok(inventory) = awl::inventory::file::parse(BASE, None) else {
                panic!("the base inventory reads");
            };
            let Ok(body) = serde_json::from_str::<serde_json::Value>(text) else {
                return;
            };
            let kind = [Kind::Distro, Kind::Profile, Kind::System][usize::from(which / 6) % 3];
            let name = ["d", "p", "s", "new"][usize::from(which / 18) % 4];
            let change = match which / 72 {
                0 => Change::Create(body),
                1 => Change::Replace(body),
                2 => Change::Merge(body),
                _ => Change::Remove,
            };
            if let Ok((after, _)) = edit(&inventory, kind, name, &change) {
                // What the API stored, the file reader reads back.
                let text = awl::inventory::file::to_toml(&after).expect("serialises");
                assert!(awl::inventory::file::parse(&text, None).is_ok(), "{text}");
                // Written as only the entries that changed, from the base
                // or a hand-written one with comments: the same entries.
                for start in [BASE, COMMENTED, HAND] {
                    let Ok(before) = awl::inventory::file::parse(start, None) else {
                        panic!("the base inventory reads");
                    };
                    let Ok((after, _)) = edit(&before, kind, name, &change) else {
                        continue;
                    };
                    let Some(out) = awl::inventory::splice::rewrite_entries(start, &before, &after)
                    else {
                        continue;
                    };
                    if text.contains("nan") {
                        continue; // NaN is not equal to itself
                    }
                    if let Ok(read) = awl::inventory::file::parse(&out, None) {
                        assert!(read == after, "{out}");
                    }
                }
            }
        }
        5 => {
            let headers = [("Content-Length", rest)];
            let _ = awl::http::body_length(&headers);
        }
        6 => {
            use awl::inventory::{append::parse_appended, file, CheckContext};
            // Two bases: awl's own writing, and a hand-written one (a
            // byte-order mark, CRLF, a comment, [unknown], tables that
            // extend the last entry).
            let start = [BASE, HAND][usize::from(which / 8) % 2];
            let Ok(base) = file::parse(start, None) else {
                panic!("the base inventory reads");
            };
            assert!(base.source.is_some(), "entries may be appended to the base");
            let whole = format!("{start}{text}");
            if which / 16 % 4 == 2 {
                changed(start, text, which);
            } else if which / 16 % 2 == 0 && !whole.contains("nan") {
                if let Some(fast) = parse_appended(&base, &whole, None, &CheckContext::default()) {
                    let slow = file::parse(&whole, None).expect("what reads appended reads whole");
                    assert!(fast == slow && fast.source == slow.source, "{whole}");
                    for (f, s) in fast.systems.iter().zip(&slow.systems) {
                        assert_eq!(f.place.table, s.place.table);
                    }
                }
            } else {
                spliced(&whole, which);
            }
        }
        _ => {
            if let Some(line) = awl::syslog::parse(rest) {
                assert!(line.severity.is_none_or(|s| s <= 7));
                assert!(!line.text.ends_with('\n'));
            }
        }
    }
});

/// One system of `whole` (picked by `which`) removed or changed in its own
/// lines, as a new process does it from the digest: when that way is
/// taken, the file it writes must read as the whole file changed does.
fn spliced(whole: &str, which: u8) {
    use awl::inventory::digest;
    use awl::inventory::splice::{read_changed_systems, splice_system};
    use awl::inventory::model::{Netboot, System};
    use awl::inventory::{file, CheckContext};
    let Ok(read) = file::parse(whole, None) else {
        return;
    };
    // NaN is not equal to itself: the comparison below would fail.
    if read.source.is_none() || read.systems.is_empty() || whole.contains("nan") {
        return;
    }
    let n = read.systems.len();
    let pick = usize::from(which / 64) + whole.len() / 7;
    let name = read.systems[pick % n].name.clone();
    let other = read.systems[(pick + 1) % n].clone();
    let remove = which / 32 % 2 == 1;
    // What the edit does, from the input: a plain change, another
    // system's claims (refused, or taken the whole way), or text that
    // looks like a header inside a string.
    let how = whole.len() % 4;
    let mut change = |mut s: System| -> anyhow::Result<Option<System>> {
        if remove {
            return Ok(None);
        }
        match how {
            0 => {
                s.netboot = Some(Netboot::Never);
                s.kernel_args = "fuzz=1".into();
            }
            1 => s.interfaces = other.interfaces.clone(),
            2 => (s.uuid, s.profile) = (other.uuid, other.profile.clone()),
            _ => {
                let text = "x\n[[system]]\nname = \"y\"\n".to_string();
                s.vars.insert("note".into(), text.into());
            }
        }
        Ok(Some(s))
    };
    let digest = digest::text(&read).expect("a read with a source has a digest");
    let path = std::path::Path::new("inv.toml");
    let (mut base, _) = digest::read(digest.as_bytes(), path).expect("the digest reads back");
    let ctx = CheckContext::default();
    let Some(Ok(new_text)) = splice_system(&mut base, whole, &name, &mut change, None, &ctx) else {
        return;
    };
    let fast = file::parse(&new_text, None).expect("the spliced file reads");
    let mut slow = read.clone();
    let i = slow.systems.iter().position(|s| s.name == name).expect("it is there");
    let old = slow.systems.remove(i);
    if let Some(new) = change(old).expect("no refusal") {
        slow.systems.insert(i, new);
    }
    assert!(fast == slow, "{whole}\n---\n{new_text}");
    assert_eq!(fast.source, base.source);
    assert_eq!(fast.systems.len(), base.systems.len());
    for (f, b) in fast.systems.iter().zip(&base.systems) {
        assert_eq!((&f.name, f.place.table), (&b.name, b.place.table));
    }
    assert_eq!(digest::text(&fast), digest::text(&base), "{new_text}");
    // A running server reads the new text as a change to what it held.
    let mut served = read.clone();
    if read_changed_systems(&mut served, whole, &new_text, None, &ctx) {
        assert!(served == fast && served.source == fast.source, "{new_text}");
    }
}

/// `start` with three systems after it, and some of its bytes (picked by
/// `which` and the input's length) replaced by `text`: when a running
/// server reads that as a change to the systems alone, it must be what a
/// whole read gives; when not, what it holds must be as it was.
fn changed(start: &str, text: &str, which: u8) {
    use awl::inventory::splice::read_changed_systems;
    use awl::inventory::{file, CheckContext};
    let old = format!("{start}{SYSTEMS}");
    let Ok(before) = file::parse(&old, None) else {
        panic!("the base with systems reads");
    };
    // Whole lines among the systems, mostly (a line of the input may end
    // anywhere, and it may go before the first system).
    let starts: Vec<usize> = std::iter::once(0)
        .chain(old.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&at| at + SYSTEMS.len() + 4 >= old.len())
        .collect();
    let pick = usize::from(which / 64) + text.len() * 13;
    let from = starts[pick % starts.len()];
    // A third of the time an insertion (what a hand-added system is).
    let insert = text.len().is_multiple_of(3);
    let to = match starts.get(pick % starts.len() + text.len() % 3) {
        _ if insert => from,
        Some(&at) => at,
        None => old.len(),
    };
    let (Some(head), Some(tail)) = (old.get(..from), old.get(to..)) else {
        return;
    };
    let new = format!("{head}{text}{tail}");
    if new.contains("nan") {
        return; // NaN is not equal to itself
    }
    let mut held = before.clone();
    if !read_changed_systems(&mut held, &old, &new, None, &CheckContext::default()) {
        assert!(held == before, "{new}");
        for (h, b) in held.systems.iter().zip(&before.systems) {
            assert_eq!(h.place.table, b.place.table);
        }
        return;
    }
    let whole = file::parse(&new, None).expect("what was read as a change reads whole");
    assert!(held == whole && held.source == whole.source, "{new}");
    for (h, w) in held.systems.iter().zip(&whole.systems) {
        assert_eq!((&h.name, h.place.table), (&w.name, w.place.table), "{new}");
        assert_eq!(h.place.fields, w.place.fields, "{new}");
    }
}

/// Three systems, as `awl system add` writes them, for [`changed`].
const SYSTEMS: &str = "
[[system]]
name = \"s1\"

[[system.interface]]
mac = \"52:54:00:00:01:01\"
ip = \"10.0.0.101\"

[system.vars]
role = \"web\"

[[system]]
name = \"s2\"
profile = \"p\"
netboot = \"once\"

[[system.interface]]
mac = \"52:54:00:00:01:02\"

[[system]]
name = \"s3\"
uuid = \"4c4c4544-0000-1000-8000-000000000003\"
";

/// [`BASE`] as a person might keep it: comments above and among the
/// entries, and a second system.
const COMMENTED: &str = "# the lab

# mirrored nightly
[[distro]]
name = \"d\"
kernel = \"d/linux\"
initrd = [\"d/initrd.gz\"]
family = \"debian\"

# most machines
[[profile]]
name = \"p\"
distro = \"d\"
template = \"preseed\"

[[system]]
name = \"s\"
profile = \"p\"

[[system.interface]]
mac = \"52:54:00:00:00:01\"

# by the door
[[system]]
name = \"t\"

[[system.interface]]
mac = \"52:54:00:00:00:09\"
";

/// One distro, profile and system, for the API's edits.
const BASE: &str = r#"
[[distro]]
name = "d"
kernel = "d/linux"
initrd = ["d/initrd.gz"]

[[profile]]
name = "p"
distro = "d"

[[system]]
name = "s"
profile = "p"

[[system.interface]]
mac = "52:54:00:00:00:01"
"#;

/// A hand-written base for the appended entries.
const HAND: &str = "\u{feff}# by hand\r\n[unknown]\r\naction = \"menu\"\r\n\r\n[[distro]]\r\nname = \"d\"\r\nkernel = \"d/linux\"\r\ninitrd = [\"d/initrd.gz\"]\r\n\r\n[[profile]]\r\nname = \"p\"\r\ndistro = \"d\"\r\n\r\n[[system]]\r\nname = \"s\"\r\nprofile = \"p\"\r\n\r\n[[system.interface]]\r\nmac = \"52:54:00:00:00:01\"\r\n\r\n[system.vars]\r\nx = 1\r\n";
