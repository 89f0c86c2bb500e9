//! Any bytes through the TFTP parser; what parses must emit to exactly
//! `buffer_len()` bytes and parse back equal (an ERROR message may come back
//! cut to fit 512 bytes).
#![no_main]

use awl_core::wire::tftp::Repr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = Repr::parse(data) else { return };
    let _log = format!("{repr:?} {:?}", repr.opcode());
    if let Repr::Rrq(r) | Repr::Wrq(r) = &repr {
        let _pairs: Vec<_> = r.pairs.collect();
    }
    let mut buf = vec![0u8; repr.buffer_len()];
    let len = repr.emit(&mut buf).expect("emit into buffer_len bytes");
    assert_eq!(len, buf.len());
    let back = Repr::parse(&buf).expect("emitted datagram parses");
    match (&repr, &back) {
        // ERROR messages are cut so the datagram fits 512 bytes (and end at
        // their first NUL): what comes back is a prefix.
        (Repr::Error { code: a, message: m }, Repr::Error { code: b, message: n }) => {
            assert_eq!(a, b);
            assert!(m.starts_with(n));
            assert!(buf.len() <= awl_core::wire::tftp::MAX_ERROR_LEN);
        }
        _ => assert_eq!(back, repr),
    }
    if !buf.is_empty() {
        assert!(repr.emit(&mut buf[..len - 1]).is_err());
    }
});
