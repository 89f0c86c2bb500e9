//! Any filename through the path resolver: what comes out never climbs out
//! of the root, never starts with '/', never has empty, '.', '..' or
//! backslash segments, and fits the buffer.
#![no_main]

use awl_core::tftp::path::resolve;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let mut buf = [0u8; 128];
    if let Ok(path) = resolve(name, &mut buf) {
        assert!(!path.is_empty() && path.len() <= 128);
        assert!(!path.starts_with('/') && !path.contains('\\'));
        assert!(path.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
    }
});
