//! The host's parsers of text a client or a hand edit controls, none of
//! which may panic: the HTTP `Range` planner (with its invariants: parts
//! ascending, disjoint, inside the file, at most `max_ranges`, never more
//! bytes than the file), kernel command lines, the inventory file, and the
//! boot-config names loaders ask for. The first byte picks the parser.
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
    match which % 4 {
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
        _ => {
            let _ = awl::render::parse_boot_config_path(text);
        }
    }
});
