//! Any template: `check` and `render` never panic, and rendering in
//! windows of any size at any offset gives the same bytes as rendering it
//! whole.
#![no_main]

use std::net::Ipv4Addr;

use awl_core::script::{check, render, ClientVars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let Ok(template) = std::str::from_utf8(rest) else { return };
    let _ = check(template);
    let vars = ClientVars {
        server: Ipv4Addr::new(10, 0, 0, 1),
        mirror: "http://m/",
        mac: Some([1, 2, 3, 4, 5, 6]),
        ip: Ipv4Addr::new(10, 0, 0, 2),
        hostname: "h",
    };
    let (_, total) = render(template, &vars, 0, &mut []);
    let mut whole = vec![0u8; total as usize];
    assert_eq!(render(template, &vars, 0, &mut whole), (total as usize, total));
    let mut pieces = Vec::new();
    let mut buf = vec![0u8; usize::from(chunk).max(1)];
    loop {
        let (n, t) = render(template, &vars, pieces.len() as u64, &mut buf);
        assert_eq!(t, total);
        if n == 0 {
            break;
        }
        pieces.extend_from_slice(&buf[..n]);
    }
    assert_eq!(pieces, whole);
});
