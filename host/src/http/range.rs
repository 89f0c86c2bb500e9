//! `Range: bytes=…` (RFC 9110 §14): parsing, and the policy that keeps a
//! range request from costing more than the whole file.
//!
//! Overlapping and adjacent ranges are merged (in ascending order). The
//! shape of CVE-2011-3192 (Apache's "Range header DoS": hundreds of
//! overlapping ranges, each a part of its own) gets the whole file, once,
//! as Apache's fix and nginx do: when the ranges asked for add up to more
//! than the file, or more than `max_ranges` remain after merging, the
//! `Range` header is ignored and the answer is a plain 200.

/// What to send for a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The whole file (no usable `Range`, or one not worth honouring).
    Full,
    /// 416: no range overlaps the file.
    Unsatisfiable,
    /// 206: these `(start, end)` byte ranges (end exclusive), ascending,
    /// disjoint and not adjacent; one or more.
    Parts(Vec<(u64, u64)>),
}

/// One `range-spec` as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last`
    FromTo(u64, u64),
    /// `first-`
    From(u64),
    /// `-suffix`
    Suffix(u64),
}

/// Decides what to send of a file of `len` bytes for the `Range` value
/// `header`. An unparsable header is ignored (RFC 9110 §14.2).
pub fn plan(header: &str, len: u64, max_ranges: usize) -> Plan {
    let Some(specs) = parse(header) else {
        return Plan::Full;
    };
    let mut ranges: Vec<(u64, u64)> = specs
        .into_iter()
        .filter_map(|spec| satisfiable(spec, len))
        .collect();
    if ranges.is_empty() {
        return Plan::Unsatisfiable;
    }
    let asked: u64 = ranges
        .iter()
        .fold(0u64, |sum, (start, end)| sum.saturating_add(end - start));
    if asked > len {
        return Plan::Full;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len().min(max_ranges + 1));
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => {
                if merged.len() == max_ranges {
                    return Plan::Full;
                }
                merged.push((start, end));
            }
        }
    }
    Plan::Parts(merged)
}

/// The part of `spec` inside a file of `len` bytes, if any.
fn satisfiable(spec: Spec, len: u64) -> Option<(u64, u64)> {
    match spec {
        Spec::FromTo(first, last) if first < len => Some((first, last.min(len - 1) + 1)),
        Spec::From(first) if first < len => Some((first, len)),
        Spec::Suffix(n) if n > 0 && len > 0 => Some((len - n.min(len), len)),
        _ => None,
    }
}

/// Parses `bytes=SPEC, SPEC…`; `None` when any part is not a range spec
/// or the unit is not `bytes`.
fn parse(header: &str) -> Option<Vec<Spec>> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // Empty list elements are allowed (RFC 9110 §5.6.1).
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (first, last) = spec.split_once('-')?;
        let spec = match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => Spec::FromTo(first, last),
            (Some(first), None) if last.is_empty() => Spec::From(first),
            (None, Some(n)) if first.is_empty() => Spec::Suffix(n),
            _ => return None,
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// Decimal digits only; a number past `u64` saturates (it is past any
/// file's end anyway).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN: u64 = 10_000;

    fn parts(header: &str) -> Vec<(u64, u64)> {
        match plan(header, LEN, 16) {
            Plan::Parts(p) => p,
            other => panic!("{header}: {other:?}"),
        }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(parts("bytes=0-499"), [(0, 500)]);
        assert_eq!(parts("bytes=500-"), [(500, LEN)]);
        assert_eq!(parts("bytes=-500"), [(LEN - 500, LEN)]);
        assert_eq!(parts("bytes=9999-"), [(9999, LEN)]);
        // Past the end is clamped; a suffix longer than the file is all of it.
        assert_eq!(parts("bytes=9000-20000"), [(9000, LEN)]);
        assert_eq!(parts("bytes=-20000"), [(0, LEN)]);
        assert_eq!(parts("Bytes = 0-0"), [(0, 1)]);
        assert_eq!(parts("bytes=0-"), [(0, LEN)]);
    }

    #[test]
    fn several_ranges_stay_apart_unless_they_touch() {
        assert_eq!(
            parts("bytes=0-99, 200-299,-100"),
            [(0, 100), (200, 300), (LEN - 100, LEN)]
        );
        // Out of order: sorted. Overlapping or adjacent: merged.
        assert_eq!(parts("bytes=200-299,0-99"), [(0, 100), (200, 300)]);
        assert_eq!(parts("bytes=0-99,100-199"), [(0, 200)]);
        assert_eq!(parts("bytes=0-99,50-149,,"), [(0, 150)]);
        // An unsatisfiable one among satisfiable ones is dropped.
        assert_eq!(parts("bytes=0-9,20000-30000"), [(0, 10)]);
    }

    #[test]
    fn unsatisfiable() {
        for h in [
            "bytes=10000-",
            "bytes=20000-30000",
            "bytes=-0",
            "bytes=10000-10000",
        ] {
            assert_eq!(plan(h, LEN, 16), Plan::Unsatisfiable, "{h}");
        }
        assert_eq!(plan("bytes=0-", 0, 16), Plan::Unsatisfiable);
        assert_eq!(plan("bytes=-5", 0, 16), Plan::Unsatisfiable);
    }

    #[test]
    fn unparsable_is_ignored() {
        for h in [
            "bytes=",
            "bytes=,",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=1",
            "bytes=-",
            "bytes=--5",
            "bytes=0-1;2-3",
            "bytes=+1-2",
            "0-1",
        ] {
            assert_eq!(plan(h, LEN, 16), Plan::Full, "{h}");
        }
        // Numbers past u64 saturate: past the end, so unsatisfiable.
        assert_eq!(
            plan("bytes=99999999999999999999999-", LEN, 16),
            Plan::Unsatisfiable
        );
        assert_eq!(parts("bytes=0-99999999999999999999999"), [(0, LEN)]);
    }

    #[test]
    fn cve_2011_3192_shapes_cost_at_most_the_file() {
        // 2000 overlapping ranges: one part of a large file; of a small
        // one (they add up to 2 001 000 bytes), the whole file.
        let overlapping: Vec<String> = (0..2000).map(|i| format!("0-{i}")).collect();
        let overlapping = format!("bytes={}", overlapping.join(","));
        assert_eq!(
            plan(&overlapping, 64 << 20, 16),
            Plan::Parts(vec![(0, 2000)])
        );
        assert_eq!(plan(&overlapping, LEN, 16), Plan::Full);
        // The same bytes asked for twice add up to more than the file.
        assert_eq!(plan("bytes=0-,0-", LEN, 16), Plan::Full);
        assert_eq!(plan("bytes=-10000,0-0", LEN, 16), Plan::Full);
        // Apache's exploit: "5-0" is not a range spec at all.
        let exploit: Vec<String> = (0..1300).map(|i| format!("5-{i}")).collect();
        assert_eq!(
            plan(&format!("bytes=0-,{}", exploit.join(",")), LEN, 16),
            Plan::Full
        );
        // Many small disjoint ranges: more than the limit after merging.
        let disjoint: Vec<String> = (0..2000).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
        assert_eq!(
            plan(&format!("bytes={}", disjoint.join(",")), LEN, 16),
            Plan::Full
        );
        let sixteen: Vec<String> = (0..16).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
        assert_eq!(parts(&format!("bytes={}", sixteen.join(","))).len(), 16);
        let seventeen: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
        assert_eq!(
            plan(&format!("bytes={}", seventeen.join(",")), LEN, 16),
            Plan::Full
        );
    }
}
