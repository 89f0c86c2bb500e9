//! Changing one system in its own lines, and reading such a change.
//!
//! At 10,000 systems the inventory file is some 2.6 MB of TOML, and
//! reading and checking it whole takes a few hundred milliseconds.
//!
//! * [`splice_system`] (an `awl system edit` or `remove`, the API's system
//!   `PUT`, `PATCH`, `DELETE`) works from the [`super::digest`]: it
//!   rewrites that system's lines, from its `[[system]]` header up to the
//!   next system's, which must read alone as exactly that system. Other
//!   edits still read and write the file whole.
//! * [`read_changed_systems`] is the running server's side: it keeps the
//!   text of the version it holds and reads a newer text as a change to
//!   it, reading only the systems whose lines differ.
//!
//! Whatever either cannot be sure of is left to the whole way, which gives
//! the same answer and names every problem with its line.

use std::path::Path;

use super::check::{CheckContext, Report};
use super::file;
use super::model::{count_lines, Inventory, Pos, Source, System};

/// One system changed in place: `base` (a version read whole, or a
/// digest's, with its [`Source`]) and `text`, which must be that version;
/// its system `name` becomes what `change` makes of it (`None`: removed).
/// Only that system's own lines are read and written: they run from its
/// `[[system]]` header to the next system's (or the end), and must read
/// alone as exactly that system. Returns the new text, with `base` now
/// describing it (later systems' lines moved); `None` when this way cannot
/// be sure (read and write the whole file then, which gives the same file
/// content for that system and names every problem with its line);
/// `Some(Err)` for what `change` refused, or an unknown name.
pub fn splice_system(
    base: &mut Inventory,
    text: &str,
    name: &str,
    change: &mut dyn FnMut(System) -> anyhow::Result<Option<System>>,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> Option<anyhow::Result<String>> {
    if base.source.is_none() || base.source != Source::of(text) {
        return None;
    }
    let Some(index) = base.systems.iter().position(|s| s.name == name) else {
        return Some(Err(anyhow::anyhow!("no system is named {name}")));
    };
    let line = base.systems[index].place.table?.line;
    let next = base
        .systems
        .iter()
        .filter_map(|s| s.place.table.map(|p| p.line))
        .filter(|l| *l > line)
        .min();
    let start = line_start(text, line)?;
    let end = match next {
        Some(next) => line_start(text, next)?,
        None => text.len(),
    };
    let old_part = text.get(start..end)?;
    // Both ends are `[[system]]` headers, and what is between reads as
    // the system the digest describes (a wrong line would cut it short).
    let header = |at: usize| {
        let line = text[at..].split('\n').next().unwrap_or_default();
        let bare: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        bare.starts_with("[[system]]")
    };
    if !header(start) || (end < text.len() && !header(end)) {
        return None;
    }
    let old = read_one(old_part, line - 1, path)?;
    let known = &base.systems[index];
    let same = (
        &old.name,
        &old.profile,
        old.netboot,
        old.uuid,
        &old.interfaces,
    ) == (
        &known.name,
        &known.profile,
        known.netboot,
        known.uuid,
        &known.interfaces,
    );
    if !same {
        return None;
    }
    let new = match change(old) {
        Ok(new) => new,
        Err(e) => return Some(Err(e)),
    };
    let new_part = match &new {
        Some(system) => Some(file::entry_toml("system", system).ok()?),
        None => None,
    };
    let new_system = match &new_part {
        Some(part) => Some(read_one(part, line - 1, path)?),
        None => None,
    };
    // The previous system's lines, for the comments just above this one.
    let prev = (base.systems.iter())
        .filter_map(|s| s.place.table.map(|p| p.line))
        .filter(|l| *l < line)
        .max()
        .and_then(|l| Some((line_start(text, l)?, l)));
    let (from, end, new_part) = replacement(text, (start, end), line, prev, new_part)?;
    let moved = count_lines(&new_part) as isize - count_lines(&text[from..end]) as isize;
    let mut changed = base.clone();
    match new_system {
        Some(system) => changed.systems[index] = system,
        None => {
            changed.systems.remove(index);
        }
    }
    for s in &mut changed.systems {
        let later = |p: &mut Pos| {
            if p.line > line {
                p.line = p.line.saturating_add_signed(moved);
            }
        };
        if s.place.table.is_some_and(|p| p.line > line) {
            s.place.table.iter_mut().for_each(later);
            s.place.fields.values_mut().for_each(later);
        }
    }
    if !changed.check(ctx).is_empty() {
        return None;
    }
    let new_text = [&text[..from], &new_part, &text[end..]].concat();
    changed.path = path.map(Path::to_path_buf);
    changed.source = Source::of(&new_text);
    changed.source.as_ref()?;
    *base = changed;
    Some(Ok(new_text))
}

/// `old_text` (which `old` was read from) with only the entries that
/// differ in `new` rewritten: each changed distro, profile or system put,
/// as the writer writes it, in place of its own lines (its header up to
/// the next entry's header), each removed one's lines taken out, each
/// added one put after the last entry of its kind. The rest keeps its
/// bytes: the comments of a hand-written file, and the comment lines just
/// above an entry, which are taken to be about it (as [`splice_system`]
/// keeps them). `None` when that cannot be done: an entry renamed or
/// moved, one added where its kind has none yet or beside a change to
/// the last of its kind, `[unknown]` changed, lists not written as
/// tables. The caller reads the result back and compares it with `new`
/// before writing it (the whole file is written otherwise).
pub fn rewrite_entries(old_text: &str, old: &Inventory, new: &Inventory) -> Option<String> {
    if old.source.is_none() || old.unknown != new.unknown {
        return None;
    }
    let kinds = [
        changes_of("distro", &old.distros, &new.distros, |d| {
            (&d.name, &d.place)
        })?,
        changes_of("profile", &old.profiles, &new.profiles, |p| {
            (&p.name, &p.place)
        })?,
        changes_of("system", &old.systems, &new.systems, |s| {
            (&s.name, &s.place)
        })?,
    ];
    // Every entry's header line: where an entry's lines end.
    let mut headers: Vec<usize> = (old.distros.iter().map(|d| d.place.table))
        .chain(old.profiles.iter().map(|p| p.place.table))
        .chain(old.systems.iter().map(|s| s.place.table))
        .map(|p| p.map(|p| p.line))
        .collect::<Option<Vec<_>>>()?;
    headers.extend(old.unknown.place.table.map(|p| p.line));
    headers.sort_unstable();
    let offsets = offsets_of_lines(old_text, &headers)?;
    // An entry's lines: from its header to the next entry's; and the
    // previous entry's header (byte, line), when there is one.
    let span = |line: usize| -> Option<(Range, Option<Header>)> {
        let i = headers.binary_search(&line).ok()?;
        let end = offsets.get(i + 1).copied().unwrap_or(old_text.len());
        let prev = i.checked_sub(1).map(|p| (offsets[p], headers[p]));
        Some(((offsets[i], end), prev))
    };
    // Byte ranges of the old text and what goes in their place.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for kind in kinds {
        for Rewrite { line, new } in kind.rewrites {
            let (range, prev) = span(line)?;
            edits.push(replacement(old_text, range, line, prev, new)?);
        }
        if kind.added.is_empty() {
            continue;
        }
        // After the last entry of the kind, which must be left as it is,
        // before the comment lines at its end (about what follows).
        let last = kind.last?;
        let ((start, end), _) = span(last)?;
        let kept = kept_comments(old_text.get(start..end)?, last - 1);
        let added = kind.added.join("\n");
        let at = end - kept.len();
        let text = if kept.is_empty() && end < old_text.len() {
            format!("{added}\n")
        } else {
            format!("\n{added}")
        };
        edits.push((at, at, line_endings_of(old_text, text)));
    }
    // Stitched in order; an insertion just before a rewritten entry goes
    // in front of it; anything else in one place is given up.
    edits.sort_unstable_by_key(|&(start, end, _)| (start, end));
    let mut text = String::with_capacity(old_text.len() + 1024);
    let mut done = 0;
    for (start, end, new_part) in edits {
        if start < done {
            return None;
        }
        text.push_str(old_text.get(done..start)?);
        text.push_str(&new_part);
        done = end;
    }
    text.push_str(old_text.get(done..)?);
    Some(text)
}

/// Bytes `start..end` of a text.
type Range = (usize, usize);
/// An entry's header: its byte and its line.
type Header = (usize, usize);

/// One entry to rewrite: its header line in the old text, and what it
/// becomes (`None`: removed).
struct Rewrite {
    line: usize,
    new: Option<String>,
}

/// What changed in one kind of entry.
struct KindChanges {
    rewrites: Vec<Rewrite>,
    /// Entries added at the end of the list, as the writer writes them.
    added: Vec<String>,
    /// The header line of the last old entry, when it is not rewritten.
    last: Option<usize>,
}

/// The entries of one kind that differ from `old` to `new`, which must be
/// `old` with some entries changed in place or removed, and some added
/// at its end (`None` otherwise).
fn changes_of<T: PartialEq + serde::Serialize>(
    kind: &str,
    old: &[T],
    new: &[T],
    of: impl Fn(&T) -> (&String, &crate::inventory::model::Place),
) -> Option<KindChanges> {
    let mut rewrites = Vec::new();
    let mut next = new.iter().peekable();
    let mut last = None;
    for entry in old {
        let (name, place) = of(entry);
        let line = place.table?.line;
        last = Some(line);
        match next.peek() {
            Some(&now) if of(now).0 == name => {
                next.next();
                if now != entry {
                    let text = file::entry_toml(kind, now).ok()?;
                    rewrites.push(Rewrite {
                        line,
                        new: Some(text),
                    });
                    last = None;
                }
            }
            _ => {
                rewrites.push(Rewrite { line, new: None });
                last = None;
            }
        }
    }
    // What is left is added; a name the old list had means a move.
    let added = next
        .map(|e| {
            let taken = old.iter().any(|o| of(o).0 == of(e).0);
            (!taken).then(|| file::entry_toml(kind, e).ok()).flatten()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(KindChanges {
        rewrites,
        added,
        last,
    })
}

/// What replaces an entry's lines `range` of `text` (its header on line
/// `line`; `prev`: the previous entry's header, byte and line): `new` as
/// the writer writes it, or nothing (removed). The comment lines at the
/// end of the range are about what follows (the next entry, or nothing:
/// a footer) and stay, with the blank line before them. A removed entry
/// also takes the comment lines just above it (at the end of the previous
/// entry's lines), and no second blank line is left. `new` gets the
/// text's line endings. The range may grow back over those comments.
fn replacement(
    text: &str,
    (start, end): Range,
    line: usize,
    prev: Option<Header>,
    new: Option<String>,
) -> Option<(usize, usize, String)> {
    // A byte-order mark before the first line is the file's, not an entry's.
    let start = match start == 0 && text.starts_with('\u{feff}') {
        true => '\u{feff}'.len_utf8(),
        false => start,
    };
    let part = text.get(start..end)?;
    let follows = end < text.len();
    let tail = kept_comments(part, line - 1);
    let newline = line_endings_of(text, "\n".into());
    match new {
        Some(new) => {
            let mut new = line_endings_of(text, new);
            if !tail.is_empty() {
                new.push_str(tail);
            } else if follows {
                new.push_str(&newline);
            }
            Some((start, end, new))
        }
        None => {
            let above = match prev {
                Some((at, line)) => kept_comments(text.get(at..start)?, line - 1),
                None => "",
            };
            let from = start - above.trim_start_matches(['\r', '\n']).len();
            let rest = tail.trim_start_matches(['\r', '\n']).to_string();
            // The last entry removed: the blank line before it goes too.
            let from = match rest.is_empty() && !follows {
                true => without_blank_line_before(text, from),
                false => from,
            };
            Some((from, end, rest))
        }
    }
}

/// The comment lines at the end of an entry's lines `part` (after
/// `lines_before` lines), which are about what follows: none when the
/// rest does not read alone without them (a line of a multi-line string
/// may start with `#`).
fn kept_comments(part: &str, lines_before: usize) -> &str {
    let kept = comments_above(part);
    let own = &part[..part.len() - kept.len()];
    let mut report = Report::new(None);
    let reads = file::read_at(own, lines_before, None, &mut report).is_some();
    match kept.is_empty() || (reads && report.problems.is_empty()) {
        true => kept,
        false => "",
    }
}

/// `text` (written with `\n`) with the line endings of `file` (`\r\n`
/// when its first line ends so), unless it holds a multi-line string,
/// whose line endings are part of its value.
fn line_endings_of(file: &str, text: String) -> String {
    let crlf = (file.split_once('\n')).is_some_and(|(first, _)| first.ends_with('\r'));
    match crlf && !text.contains(r#"""""#) && !text.contains("'''") {
        true => text.replace('\n', "\r\n"),
        false => text,
    }
}

/// `start` less the blank line just before it, when there is one.
fn without_blank_line_before(text: &str, start: usize) -> usize {
    for blank in ["\r\n", "\n"] {
        if text[..start].ends_with(&format!("\n{blank}")) {
            return start - blank.len();
        }
    }
    start
}

/// The comment lines at the end of `part` (whole lines), with the blank
/// lines among and before them; empty when it ends with none.
fn comments_above(part: &str) -> &str {
    let mut from = part.len();
    let mut comment = false;
    while from > 0 {
        let line_start = part[..from - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = part[line_start..from].trim();
        if line.starts_with('#') {
            comment = true;
        } else if !line.is_empty() {
            break;
        }
        from = line_start;
    }
    if comment {
        &part[from..]
    } else {
        ""
    }
}

/// The byte offset where line `line` (1-based) of `text` starts.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 1 {
        return Some(0);
    }
    text.bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .nth(line.checked_sub(2)?)
        .map(|(i, _)| i + 1)
}

/// `part` (lines of a file after `lines_before` others) read alone as one
/// `[[system]]` table and nothing else, without a problem.
fn read_one(part: &str, lines_before: usize, path: Option<&Path>) -> Option<System> {
    if part.starts_with('\u{feff}') {
        return None;
    }
    let mut report = Report::new(path);
    let (mut read, shape) = file::read_at(part, lines_before, path, &mut report)?;
    let alone = read.distros.is_empty() && read.profiles.is_empty() && read.systems.len() == 1;
    if !report.problems.is_empty() || !shape.lists_as_tables || shape.has_unknown || !alone {
        return None;
    }
    read.systems.pop()
}

/// `text` read as `old` (the text `inventory` was read from) with the
/// lines of some systems changed, removed or added among them, as an
/// `awl system edit` or a hand edit of one system leaves it. Only the
/// lines that changed are read: from the `[[system]]` header at or before
/// the first byte that differs, up to the first system header at or after
/// the last byte that differs (or the end). They must read alone as
/// nothing but whole `[[system]]` tables (none: systems removed), and the
/// result must pass the checks of a full read in `ctx`. `false`: read the
/// text whole (that names every problem with its line); `inventory` is
/// then as it was.
pub fn read_changed_systems(
    inventory: &mut Inventory,
    old: &str,
    text: &str,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> bool {
    // `old` must be the text `inventory` was read from (the caller keeps
    // them together); its length is a cheap guard against a mix-up.
    if inventory.source.as_ref().is_none_or(|s| s.len != old.len()) {
        return false;
    }
    let (a, b) = (old.as_bytes(), text.as_bytes());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    if prefix == a.len() && prefix == b.len() {
        return true; // the same bytes (the file was only touched)
    }
    // Where each system's header line starts in `old`, in file order.
    let mut lines = Vec::with_capacity(inventory.systems.len());
    for s in &inventory.systems {
        let Some(line) = s.place.table.map(|p| p.line) else {
            return false;
        };
        if lines.last().is_some_and(|&before| before >= line) {
            return false; // not in file order: read it whole
        }
        lines.push(line);
    }
    let Some(starts) = offsets_of_lines(old, &lines) else {
        return false;
    };
    let headers: Vec<(usize, usize)> = starts.into_iter().zip(0..).collect();
    let first = headers.partition_point(|&(at, _)| at <= prefix);
    let Some(from) = first.checked_sub(1) else {
        return false; // a change before the first system
    };
    let last_change = a.len() - suffix;
    let to = headers
        .partition_point(|&(at, _)| at < last_change)
        .max(from);
    let start = headers[from].0;
    let end_old = headers.get(to).map_or(a.len(), |&(at, _)| at);
    let Some(end_new) = (end_old + b.len()).checked_sub(a.len()) else {
        return false;
    };
    let (Some(old_part), Some(part)) = (old.get(start..end_old), text.get(start..end_new)) else {
        return false;
    };
    // Whole lines: text glued onto the next header's line (`#` typed
    // before `[[system]]`, a newline deleted) changes what that header
    // is in the whole file, however the span reads alone.
    if part.starts_with('\u{feff}') || (end_new < b.len() && !text[..end_new].ends_with('\n')) {
        return false;
    }
    let line = lines[from];
    // Other entries after the first changed system would move too: their
    // places are not kept up here, so read such a file whole.
    let others = (inventory.distros.iter().map(|d| &d.place))
        .chain(inventory.profiles.iter().map(|p| &p.place))
        .chain(std::iter::once(&inventory.unknown.place));
    if others.filter_map(|p| p.table).any(|p| p.line > line) {
        return false;
    }
    let mut report = Report::new(path);
    let Some((read, shape)) = file::read_at(part, line - 1, path, &mut report) else {
        return false;
    };
    let only_systems = read.distros.is_empty() && read.profiles.is_empty();
    if !report.problems.is_empty() || !shape.lists_as_tables || shape.has_unknown || !only_systems {
        return false;
    }
    let moved = count_lines(part) as isize - count_lines(old_part) as isize;
    let range = headers[from].1..headers.get(to).map_or(inventory.systems.len(), |&(_, i)| i);
    let added = read.systems.len();
    let removed: Vec<System> = inventory
        .systems
        .splice(range.clone(), read.systems)
        .collect();
    let later = range.start + added;
    shift_lines(&mut inventory.systems[later..], moved);
    if !inventory.check(ctx).is_empty() {
        shift_lines(&mut inventory.systems[later..], -moved);
        inventory
            .systems
            .splice(range.start..later, removed)
            .for_each(drop);
        return false;
    }
    inventory.path = path.map(Path::to_path_buf);
    inventory.source = Source::of(text);
    true
}

/// The byte offsets where lines `lines` (1-based, ascending) of `text`
/// start; `None` when one is past its end.
fn offsets_of_lines(text: &str, lines: &[usize]) -> Option<Vec<usize>> {
    let mut out = Vec::with_capacity(lines.len());
    let mut wanted = lines.iter().copied().peekable();
    while wanted.peek() == Some(&1) {
        out.push(0);
        wanted.next();
    }
    let newlines = text.bytes().enumerate().filter(|(_, b)| *b == b'\n');
    for (line, (i, _)) in (2..).zip(newlines) {
        while wanted.peek() == Some(&line) {
            out.push(i + 1);
            wanted.next();
        }
        if wanted.peek().is_none() {
            break;
        }
    }
    (out.len() == lines.len() && out.last().is_none_or(|&at| at < text.len())).then_some(out)
}

/// Moves every position of `systems` by `moved` lines.
fn shift_lines(systems: &mut [System], moved: isize) {
    for s in systems {
        let shift = |p: &mut Pos| p.line = p.line.saturating_add_signed(moved);
        s.place.table.iter_mut().for_each(shift);
        s.place.fields.values_mut().for_each(shift);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::append::tests::{B, BASE};
    use crate::inventory::digest;

    /// `text` with system `name` changed by `change` the fast way, checked
    /// against the whole file read and changed in memory: the same
    /// inventory, the same lines, the same digest a fresh read gives.
    fn spliced(
        text: &str,
        name: &str,
        change: &mut dyn FnMut(System) -> anyhow::Result<Option<System>>,
    ) -> Option<anyhow::Result<String>> {
        let whole = file::parse(text, None).unwrap();
        // As a new process sees it: from the digest.
        let digest = digest::text(&whole).unwrap();
        let (mut base, _) = digest::read(digest.as_bytes(), Path::new("inv.toml")).unwrap();
        let out = splice_system(
            &mut base,
            text,
            name,
            change,
            None,
            &CheckContext::default(),
        );
        if let Some(Ok(new_text)) = &out {
            let read = file::parse(new_text, None).expect("the spliced file reads");
            let mut slow = whole.clone();
            let i = slow.systems.iter().position(|s| s.name == name).unwrap();
            let old = slow.systems.remove(i);
            if let Some(new) = change(old).unwrap() {
                slow.systems.insert(i, new);
            }
            assert_eq!(read, slow, "{new_text}");
            assert_eq!(read.source, base.source);
            assert_eq!(digest::text(&read), digest::text(&base));
            assert_eq!(base.systems.len(), read.systems.len());
            for (b, r) in base.systems.iter().zip(&read.systems) {
                assert_eq!((&b.name, b.place.table), (&r.name, r.place.table));
            }
        }
        out
    }

    const C: &str =
        "\n[[system]]\nname = \"c\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:03\"\n";

    #[test]
    fn one_system_is_changed_in_its_own_lines() {
        let text = format!("{BASE}{B}{C}");
        let mut netboot_never = |mut s: System| {
            s.netboot = Some(crate::inventory::model::Netboot::Never);
            s.vars.insert("more".into(), toml::Value::Integer(1));
            Ok(Some(s))
        };
        for name in ["a", "b", "c"] {
            let new = spliced(&text, name, &mut netboot_never).unwrap().unwrap();
            assert!(new.len() > text.len());
            let new = spliced(&text, name, &mut |_| Ok(None)).unwrap().unwrap();
            assert!(!new.contains(&format!("name = \"{name}\"")), "{new}");
        }
        // An add then a remove gives back the same bytes.
        let added = format!(
            "{text}{}",
            "\n[[system]]\nname = \"d\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:04\"\n"
        );
        assert_eq!(
            spliced(&added, "d", &mut |_| Ok(None)).unwrap().unwrap(),
            text
        );
        // Untouched entries keep their bytes (a comment inside one too).
        let commented = text.replace(
            "[[system]]\nname = \"c\"",
            "[[system]]\n# c's\nname = \"c\"",
        );
        let new = spliced(&commented, "a", &mut netboot_never)
            .unwrap()
            .unwrap();
        assert!(new.ends_with(&commented[commented.find("[[system]]\nname = \"b\"").unwrap()..]));
        // A hand-written file: a byte-order mark, CRLF, `[unknown]` first.
        let hand =
            format!("\u{feff}[unknown]\naction = \"menu\"\n\n{BASE}{B}{C}").replace('\n', "\r\n");
        for name in ["a", "b", "c"] {
            assert!(spliced(&hand, name, &mut netboot_never).unwrap().is_ok());
        }
        // What the change refuses, and an unknown name, are errors.
        let refused = spliced(&text, "b", &mut |_| anyhow::bail!("no"));
        assert_eq!(refused.unwrap().unwrap_err().to_string(), "no");
        let unknown = spliced(&text, "z", &mut |s| Ok(Some(s)));
        assert!(unknown.unwrap().is_err());
    }

    #[test]
    fn comments_above_the_next_system_stay_with_it() {
        let above = format!("{BASE}{B}{C}").replace(
            "\n[[system]]\nname = \"c\"",
            "\n# rack 3: c is the old one\n[[system]]\nname = \"c\"",
        );
        let mut never = |mut s: System| {
            s.netboot = Some(crate::inventory::model::Netboot::Never);
            Ok(Some(s))
        };
        let note = "\n\n# rack 3: c is the old one\n[[system]]\nname = \"c\"";
        let edited = spliced(&above, "b", &mut never).unwrap().unwrap();
        assert!(edited.contains(note), "{edited}");
        assert!(edited.contains("netboot = \"never\""), "{edited}");
        // Removed: the note stays, and no second blank line is left.
        let removed = spliced(&above, "b", &mut |_| Ok(None)).unwrap().unwrap();
        assert!(
            removed.contains(note) && !removed.contains("\n\n\n"),
            "{removed}"
        );
        assert!(!removed.contains("name = \"b\""), "{removed}");
        // A multi-line string whose last line starts with `#` is not a
        // comment: the string is rewritten whole, the file reads.
        let script = format!(
            "{BASE}\n[[system]]\nname = \"b\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:02\"\n\n\
             [system.vars]\nscript = \"\"\"\necho hi\n# done\"\"\"\n{C}"
        );
        let new = spliced(&script, "b", &mut never).unwrap().unwrap();
        assert!(new.contains("echo hi") && new.contains("netboot"), "{new}");
        assert_eq!(new.matches("# done").count(), 1, "no stray copy:\n{new}");
    }

    /// `text` with `edit` made to what it reads as, the way an edit of
    /// the whole inventory writes it: only the entries that changed.
    fn rewritten(text: &str, edit: impl Fn(&mut Inventory)) -> Option<String> {
        let old = file::parse(text, None).unwrap();
        let mut new = old.clone();
        edit(&mut new);
        let out = rewrite_entries(text, &old, &new)?;
        assert_eq!(file::parse(&out, None).unwrap(), new, "{out}");
        Some(out)
    }

    #[test]
    fn a_whole_edit_rewrites_only_the_entries_it_changed() {
        let hand = format!(
            "# the lab's machines\n\n{}",
            format!("{BASE}{B}{C}")
                .replace("[[profile]]", "# what most machines install\n[[profile]]")
                .replace(
                    "\n[[system]]\nname = \"c\"",
                    "\n# c: rack 3\n[[system]]\nname = \"c\""
                )
        );
        let kept = [
            "# the lab's machines",
            "# what most machines install",
            "# c: rack 3",
        ];
        // A profile changed: its lines only; every comment stays.
        let out = rewritten(&hand, |inv| {
            inv.profiles[0].template = Some("kickstart".into())
        })
        .unwrap();
        for comment in kept {
            assert!(out.contains(comment), "{comment}:\n{out}");
        }
        assert!(out.contains("template = \"kickstart\""), "{out}");
        // A distro and a system changed, another system removed.
        let out = rewritten(&hand, |inv| {
            inv.distros[0].kernel_args = "quiet".into();
            inv.systems[0].netboot = Some(crate::inventory::model::Netboot::Never);
            inv.systems.remove(1);
        })
        .unwrap();
        for comment in kept {
            assert!(out.contains(comment), "{comment}:\n{out}");
        }
        assert!(
            !out.contains("name = \"b\"") && !out.contains("\n\n\n"),
            "{out}"
        );
        // Nothing changed: the same bytes.
        assert_eq!(rewritten(&hand, |_| {}).unwrap(), hand);
        // Entries added after the last of their kind, its comments kept.
        let out = rewritten(&hand, |inv| {
            let mut q = inv.profiles[0].clone();
            q.name = "q".into();
            inv.profiles.push(q);
            let mut d = inv.systems[2].clone();
            d.name = "d".into();
            d.interfaces[0].mac = "52:54:00:00:00:04".parse().unwrap();
            inv.systems.push(d);
        })
        .unwrap();
        for comment in kept {
            assert!(out.contains(comment), "{comment}:\n{out}");
        }
        // What it cannot do: an entry renamed or moved, one added beside a
        // change to the last of its kind, `[unknown]` changed.
        assert!(rewritten(&hand, |inv| inv.profiles[0].name = "renamed".into()).is_none());
        assert!(rewritten(&hand, |inv| inv.systems.swap(0, 1)).is_none());
        assert!(rewritten(&hand, |inv| {
            let mut d = inv.systems[2].clone();
            d.name = "d".into();
            d.interfaces[0].mac = "52:54:00:00:00:04".parse().unwrap();
            inv.systems[2].netboot = Some(crate::inventory::model::Netboot::Never);
            inv.systems.push(d);
        })
        .is_none());
        assert!(rewritten(&hand, |inv| {
            inv.unknown.action = crate::inventory::model::UnknownAction::Ignore;
        })
        .is_none());
    }

    #[test]
    fn a_removed_entry_takes_its_comments_and_a_footer_stays() {
        let text = format!(
            "{BASE}{B}{C}\n# retired, kept for their MACs:\n# [[system]]\n# name = \"old\"\n"
        )
        .replace(
            "\n[[system]]\nname = \"b\"",
            "\n# b: broken disk\n[[system]]\nname = \"b\"",
        )
        .replace(
            "\n[[system]]\nname = \"c\"",
            "\n# c: rack 3\n[[system]]\nname = \"c\"",
        );
        let footer = "\n# retired, kept for their MACs:\n# [[system]]\n# name = \"old\"\n";
        let c_note = "\n\n# c: rack 3\n[[system]]\nname = \"c\"";
        let mut never = |mut s: System| {
            s.netboot = Some(crate::inventory::model::Netboot::Never);
            Ok(Some(s))
        };
        // Both ways: the digest's (one system) and the whole edit's.
        let whole = |name: &'static str, remove: bool| {
            rewritten(&text, move |inv| {
                let i = inv.systems.iter().position(|s| s.name == name).unwrap();
                match remove {
                    true => drop(inv.systems.remove(i)),
                    false => inv.systems[i].netboot = Some(crate::inventory::model::Netboot::Never),
                }
            })
            .unwrap()
        };
        for out in [
            spliced(&text, "b", &mut |_| Ok(None)).unwrap().unwrap(),
            whole("b", true),
        ] {
            assert!(
                !out.contains("# b: broken disk") && !out.contains("name = \"b\""),
                "{out}"
            );
            assert!(out.contains(c_note) && out.ends_with(footer), "{out}");
            assert!(!out.contains("\n\n\n"), "{out}");
        }
        for out in [
            spliced(&text, "c", &mut never).unwrap().unwrap(),
            whole("c", false),
        ] {
            assert!(out.contains(c_note) && out.ends_with(footer), "{out}");
            assert!(out.contains("netboot = \"never\""), "{out}");
        }
        for out in [
            spliced(&text, "c", &mut |_| Ok(None)).unwrap().unwrap(),
            whole("c", true),
        ] {
            assert!(
                !out.contains("# c: rack 3") && out.ends_with(footer),
                "{out}"
            );
            assert!(!out.contains("\n\n\n"), "{out}");
        }
        // A byte-order mark and CRLF: kept, and no bare line feed written.
        let crlf = format!("\u{feff}{BASE}{B}{C}").replace('\n', "\r\n");
        for out in [
            rewritten(&crlf, |inv| inv.distros[0].kernel_args = "quiet".into()).unwrap(),
            spliced(&crlf, "b", &mut never).unwrap().unwrap(),
        ] {
            assert!(out.starts_with('\u{feff}'), "{out}");
            assert_eq!(
                out.matches('\n').count(),
                out.matches("\r\n").count(),
                "{out:?}"
            );
        }
        // A multi-line string keeps its own line endings (they are its
        // value): a fuzz run found CRLF put into one.
        let mut note = |mut s: System| {
            let value = toml::Value::String("x\n[[system]]\nname = \"y\"\n".into());
            s.vars.insert("note".into(), value);
            Ok(Some(s))
        };
        assert!(spliced(&crlf, "b", &mut note).unwrap().is_ok());
    }

    #[test]
    fn a_change_it_cannot_be_sure_of_is_left_to_the_slow_way() {
        let text = format!("{BASE}{B}{C}");
        // A MAC another system has: the slow way names it with its line.
        let taken = spliced(&text, "c", &mut |mut s: System| {
            s.interfaces[0].mac = "52:54:00:00:00:01".parse().unwrap();
            Ok(Some(s))
        });
        assert!(taken.is_none());
        // Another entry between two systems, `[unknown]` after the last.
        let mixed = format!("{BASE}{B}\n[[profile]]\nname = \"q\"\nparent = \"p\"\n{C}");
        assert!(spliced(&mixed, "b", &mut |s| Ok(Some(s))).is_none());
        assert!(spliced(&mixed, "c", &mut |s| Ok(Some(s))).is_some());
        let unknown = format!("{BASE}{B}\n[unknown]\naction = \"menu\"\n");
        assert!(spliced(&unknown, "b", &mut |s| Ok(Some(s))).is_none());
        // A text the digest does not describe.
        let whole = file::parse(&text, None).unwrap();
        let mut base = whole.clone();
        let other = text.replace("role = \"x\"", "role = \"y\"");
        let ctx = CheckContext::default();
        assert!(splice_system(&mut base, &other, "b", &mut |s| Ok(Some(s)), None, &ctx).is_none());
        assert_eq!(base, whole);
        // Lines that are not where the version says its systems start
        // (a bug this guards against): b's own, or c's cut into b.
        for (system, by) in [(1, 1), (1, 4), (2, -3)] {
            let mut wrong = whole.clone();
            let at = wrong.systems[system].place.table.as_mut().unwrap();
            at.line = at.line.saturating_add_signed(by);
            let keep = |s: System| Ok(Some(s));
            let out = splice_system(&mut wrong, &text, "b", &mut { keep }, None, &ctx);
            assert!(out.is_none(), "system {system} moved by {by}");
        }
    }

    /// `new` read as a change to `old` (read whole) the fast way, checked
    /// against a whole read of `new`: the same entries, lines and source.
    /// `None` when it was left to the slow way (then nothing changed).
    fn changed(old: &str, new: &str) -> Option<Inventory> {
        let before = file::parse(old, None).unwrap();
        let mut inv = before.clone();
        let ctx = CheckContext::default();
        if !read_changed_systems(&mut inv, old, new, None, &ctx) {
            assert_eq!(inv, before);
            for (a, b) in inv.systems.iter().zip(&before.systems) {
                assert_eq!(a.place.table, b.place.table);
            }
            return None;
        }
        let whole = file::parse(new, None).expect("what was read fast reads whole");
        assert_eq!(inv, whole, "{new}");
        assert_eq!(inv.source, whole.source);
        for (a, b) in inv.systems.iter().zip(&whole.systems) {
            assert_eq!((&a.name, a.place.table), (&b.name, b.place.table));
            assert_eq!(a.place.fields, b.place.fields, "{}", a.name);
        }
        let places = |i: &Inventory| {
            let d = i.distros.iter().map(|d| d.place.table);
            let p = i.profiles.iter().map(|p| p.place.table);
            d.chain(p)
                .chain([i.unknown.place.table])
                .collect::<Vec<_>>()
        };
        assert_eq!(places(&inv), places(&whole), "{new}");
        Some(inv)
    }

    #[test]
    fn a_server_reads_only_the_systems_an_edit_changed() {
        let text = format!("{BASE}{B}{C}");
        let mut never = |mut s: System| {
            s.netboot = Some(crate::inventory::model::Netboot::Never);
            s.vars.insert("more".into(), toml::Value::Integer(1));
            Ok(Some(s))
        };
        // What `awl system edit` and `remove` write, for each system.
        for name in ["a", "b", "c"] {
            for change in [&mut never as &mut dyn FnMut(_) -> _, &mut |_| Ok(None)] {
                let new = spliced(&text, name, change).unwrap().unwrap();
                let read = changed(&text, &new).expect("read the change alone");
                assert_eq!(
                    read.system(name).is_some(),
                    new.contains(&format!("\"{name}\""))
                );
            }
        }
        // Hand edits inside systems: a value, a comment, a new system
        // between two, two systems at once.
        let d = "\n[[system]]\nname = \"d\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:04\"\n";
        let hand = [
            text.replace("ip = \"10.0.0.1\"", "ip = \"10.0.0.9\""),
            text.replace("name = \"c\"", "# c's\nname = \"c\""),
            format!("{BASE}{B}{d}{C}"),
            format!("{BASE}{d}{B}{C}"),
            text.replace("role = \"x\"", "role = \"y\"")
                .replace("k = \"v\"", "k = \"w\"\nl = 2"),
            format!("{BASE}{C}"),
        ];
        for new in &hand {
            assert!(changed(&text, new).is_some(), "{new}");
        }
        // The same bytes: nothing to read.
        assert_eq!(changed(&text, &text), file::parse(&text, None).ok());
        // A hand-written file: a byte-order mark, CRLF, `[unknown]` first.
        let crlf = format!("\u{feff}[unknown]\naction = \"menu\"\n\n{text}").replace('\n', "\r\n");
        let edited = crlf.replace("role = \"x\"", "role = \"z\"");
        assert!(changed(&crlf, &edited).is_some());
    }

    #[test]
    fn a_change_outside_systems_or_a_bad_one_is_read_whole() {
        let text = format!("{BASE}{B}{C}");
        for new in [
            // Before the first system.
            text.replace("template = \"preseed\"", "template = \"kickstart\""),
            // Another entry among the systems, or after them.
            format!("{BASE}{B}\n[[profile]]\nname = \"q\"\nparent = \"p\"\n{C}"),
            format!("{text}\n[unknown]\naction = \"menu\"\n"),
            // A MAC another system has; a line that is not TOML; a key
            // the system table does not have.
            text.replace("52:54:00:00:00:03", "52:54:00:00:00:01"),
            text.replace("name = \"b\"", "name = \"b"),
            text.replace("name = \"b\"", "name = \"b\"\ncolour = 1"),
            // A byte-order mark in the middle.
            text.replace(
                "[[system]]\nname = \"c\"",
                "\u{feff}[[system]]\nname = \"c\"",
            ),
            // Text glued onto a header's line: c commented out by hand, a
            // newline deleted, blanks before the header (a review found
            // these read alone as nothing changed).
            text.replace("[[system]]\nname = \"c\"", "#[[system]]\nname = \"c\""),
            text.replace("\"v\"\n\n[[system]]", "\"v\"[[system]]"),
            text.replace("\n[[system]]\nname = \"c\"", "\n  [[system]]\nname = \"c\""),
        ] {
            assert!(changed(&text, &new).is_none(), "{new}");
        }
        // Entries after the systems would move: their lines are not kept
        // up, so such a file is read whole.
        let after = format!("{text}\n[[profile]]\nname = \"q\"\nparent = \"p\"\n");
        let longer = after.replace("role = \"x\"", "role = \"x\"\nmore = 1");
        assert!(changed(&after, &longer).is_none());
        let c_only = after.replace("name = \"c\"", "name = \"c\"\nnetboot = \"never\"");
        assert!(changed(&after, &c_only).is_none(), "c's span runs into q");
        // Not the text the version was read from.
        let mut inv = file::parse(&text, None).unwrap();
        let new = text.replace("role = \"x\"", "role = \"y\"");
        let ctx = CheckContext::default();
        assert!(!read_changed_systems(&mut inv, &new[1..], &new, None, &ctx));
    }
}
