//! parse → emit → parse: every option that parses as a typed value is
//! emitted into a reply and must read back equal; the reply must fit its
//! limit and parse.
#![no_main]

use awl_core::wire::dhcp::{code, DhcpOption, Packet, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Packet::new_checked(data) else { return };
    let mut seen = [false; 256];
    let mut options: Vec<DhcpOption<'_>> = Vec::new();
    for raw in p.options() {
        let slot = &mut seen[usize::from(raw.code)];
        if *slot || raw.code == code::OVERLOAD || options.len() >= 64 {
            continue;
        }
        *slot = true;
        let Some(value) = p.option(raw.code).and_then(|o| o.contiguous()) else { continue };
        if let Ok(typed) = DhcpOption::parse(raw.code, value) {
            options.push(typed);
        }
    }
    let prl: Vec<u8> = p.parameter_request_list().map(|o| o.bytes().collect()).unwrap_or_default();
    let max_len = data.len().max(300);
    for (required, optional) in [(&options[..], &[][..]), (&[][..], &options[..])] {
        let reply = Reply {
            chaddr: p.chaddr(),
            xid: p.xid(),
            giaddr: p.giaddr(),
            required,
            optional,
            parameter_request_list: &prl,
            max_len,
            ..Reply::default()
        };
        let mut buf = vec![0u8; max_len + 64];
        let len = match reply.emit(&mut buf) {
            Ok(len) => len,
            Err(_) => continue,
        };
        assert!(len <= max_len);
        let back = Packet::new_checked(&buf[..len]).expect("emitted reply parses");
        assert_eq!(back.chaddr(), p.chaddr());
        let mut scratch = vec![0u8; max_len];
        for opt in options.iter() {
            match back.typed_option(opt.code(), &mut scratch) {
                Some(value) => assert_eq!(value.expect("typed"), *opt),
                None => assert!(required.is_empty(), "required option {} missing", opt.code()),
            }
        }
    }
});
