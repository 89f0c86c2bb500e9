//! Any bytes through the DHCP view and every accessor, with the Debug
//! formatting a log line would do (a hostile packet must not crash logging).
#![no_main]

use std::fmt::Write;

use awl_core::wire::dhcp::{pxe, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Packet::new_checked(data) else { return };
    let mut log = String::new();
    let _ = write!(
        log,
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
        p.op(),
        p.message_type(),
        p.chaddr(),
        p.client_mac(),
        p.sname(),
        p.file(),
        p.client_ndi(),
        p.client_guid(),
        p.relay_agent_info(),
        p.is_ipxe()
    );
    let _ = write!(log, "{:?}", p.client_arch().collect::<Vec<_>>());
    if let Some(uc) = p.user_class() {
        let _ = write!(log, "{:?}", uc.iter().collect::<Vec<_>>());
    }
    if let Some(vc) = p.vendor_class().and_then(|v| v.contiguous()) {
        let _ = write!(log, "{:?}", pxe::VendorClass::parse(vc));
    }
    let mut scratch = [0u8; 1024];
    for code in 0..=255u8 {
        if let Some(value) = p.typed_option(code, &mut scratch) {
            let _ = write!(log, "{value:?}");
            if let Ok(awl_core::wire::dhcp::DhcpOption::VendorSpecific(v)) = value {
                let _ = write!(log, "{:?}", pxe::PxeOption::iter(v).collect::<Vec<_>>());
            }
        }
        if let Some(opt) = p.option(code) {
            let total: usize = opt.fragments().map(<[u8]>::len).sum();
            assert_eq!(total, opt.len());
            assert_eq!(opt.bytes().count(), opt.len());
        }
    }
});
