//! TFTP wire tests, named by intent; `cve_*` tests follow the rows of
//! RELIABILITY.md that concern parsing.

#![allow(clippy::octal_escapes)] // `\0` followed by a digit is NUL then the digit, as meant
use std::vec::Vec;

use super::*;

fn rrq(body: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 1];
    d.extend_from_slice(body);
    d
}

fn request(bytes: &[u8]) -> Request<'_> {
    match Repr::parse(bytes).unwrap() {
        Repr::Rrq(r) | Repr::Wrq(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn test_parse_plain_rrq() {
    let d = rrq(b"pxelinux.0\0octet\0");
    let r = request(&d);
    assert_eq!(r.filename, "pxelinux.0");
    assert_eq!(r.mode, Mode::Octet);
    assert!(r.options.is_empty());
}

#[test]
fn test_parse_uefi_rrq_options() {
    let d = rrq(b"boot/grubx64.efi\0octet\0tsize\00\0blksize\01468\0windowsize\04\0");
    let r = request(&d);
    assert_eq!(
        r.options,
        TftpOptions {
            blksize: Some(1468),
            tsize: Some(0),
            timeout: None,
            windowsize: Some(4)
        }
    );
    assert_eq!(r.pairs.count(), 3);
}

#[test]
fn test_mode_is_case_insensitive_and_checked() {
    assert_eq!(request(&rrq(b"f\0NetASCII\0")).mode, Mode::Netascii);
    assert_eq!(request(&rrq(b"f\0OCTET\0")).mode, Mode::Octet);
    assert_eq!(request(&rrq(b"f\0mail\0")).mode, Mode::Mail);
    assert_eq!(
        Repr::parse(&rrq(b"f\0binary\0")).unwrap_err(),
        Error::BadMode
    );
    assert_eq!(Repr::parse(&rrq(b"f\0\0")).unwrap_err(), Error::BadMode);
}

#[test]
fn cve_t4_blksize_8_with_many_options_parses_whole() {
    let d = rrq(b"f\0octet\0blksize\08\0timeout\03\0tsize\00\0windowsize\064\0");
    let r = request(&d);
    assert_eq!(
        r.options,
        TftpOptions {
            blksize: Some(8),
            tsize: Some(0),
            timeout: Some(3),
            windowsize: Some(64)
        }
    );
    // The OACK for it is built whole, whatever the block size.
    let oack = Repr::Oack { options: r.options };
    let mut buf = [0u8; 64];
    let len = oack.emit(&mut buf).unwrap();
    assert_eq!(
        &buf[..len],
        b"\0\x06blksize\08\0tsize\00\0timeout\03\0windowsize\064\0"
    );
    assert_eq!(len, oack.buffer_len());
}

#[test]
fn cve_t5_missing_nul_anywhere_is_an_error() {
    for (body, err) in [
        (&b"f"[..], Error::MissingNul),
        (b"f\0octet", Error::MissingNul),
        (b"f\0octet\0blksize", Error::MissingNul),
        (b"f\0octet\0blksize\01468", Error::MissingNul),
        (b"f\0octet\0blksize\0", Error::BadOption),
        (b"f\0octet\0blksize\01468\0tsize\0", Error::BadOption),
        (b"f\0octet\0\0x\0", Error::BadOption),
    ] {
        assert_eq!(
            Repr::parse(&rrq(body)).unwrap_err(),
            err,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn test_trailing_nul_padding_is_accepted() {
    let d = rrq(b"f\0octet\0blksize\01468\0\0\0\0");
    let r = request(&d);
    assert_eq!(r.options.blksize, Some(1468));
}

#[test]
fn cve_t11_filename_lengths() {
    assert_eq!(
        Repr::parse(&rrq(b"\0octet\0")).unwrap_err(),
        Error::EmptyFilename
    );
    for len in [1usize, 255, 256, 511, 1024] {
        let mut body = vec![b'a'; len];
        body.extend_from_slice(b"\0octet\0");
        assert_eq!(request(&rrq(&body)).filename.len(), len);
    }
    // A filename that fills the largest datagram has no room for a mode.
    let body = vec![b'a'; MAX_DATAGRAM - 2];
    assert_eq!(Repr::parse(&rrq(&body)).unwrap_err(), Error::MissingNul);
    let body = vec![b'a'; MAX_DATAGRAM];
    assert_eq!(Repr::parse(&rrq(&body)).unwrap_err(), Error::Oversize);
}

#[test]
fn test_filename_control_characters_and_non_utf8_are_refused() {
    for name in [
        &b"a\nb"[..],
        b"\x1b[31mred",
        b"a\x7fb",
        b"\xff\xfe",
        b"caf\xc3",
    ] {
        let mut body = name.to_vec();
        body.extend_from_slice(b"\0octet\0");
        assert_eq!(
            Repr::parse(&rrq(&body)).unwrap_err(),
            Error::BadFilename,
            "{name:?}"
        );
    }
    // A NUL inside the name ends it; what follows must then be a mode.
    assert_eq!(
        Repr::parse(&rrq(b"a\0b\0octet\0")).unwrap_err(),
        Error::BadMode
    );
}

#[test]
fn cve_t13_short_datagrams() {
    for d in [
        &[][..],
        &[0],
        &[0, 4],
        &[0, 4, 0],
        &[0, 3],
        &[0, 5],
        &[0, 5, 0],
    ] {
        assert_eq!(Repr::parse(d).unwrap_err(), Error::Truncated, "{d:?}");
    }
    assert_eq!(Repr::parse(&[0, 1]).unwrap_err(), Error::MissingNul);
    assert_eq!(
        Repr::parse(&[0, 9, 0, 0]).unwrap_err(),
        Error::UnknownOpcode
    );
    assert_eq!(Repr::parse(&[0, 0]).unwrap_err(), Error::UnknownOpcode);
}

#[test]
fn cve_t1_error_without_message_or_nul() {
    assert_eq!(
        Repr::parse(&[0, 5, 0, 1]).unwrap(),
        Repr::Error {
            code: ErrorCode::FileNotFound,
            message: b""
        }
    );
    assert_eq!(
        Repr::parse(b"\0\x05\0\x08abc").unwrap(),
        Repr::Error {
            code: ErrorCode::OptionRefused,
            message: b"abc"
        }
    );
    assert_eq!(
        Repr::parse(b"\0\x05\0\x63User aborted\0junk").unwrap(),
        Repr::Error {
            code: ErrorCode::Unknown(99),
            message: b"User aborted"
        }
    );
}

#[test]
fn cve_t8_error_length_is_exact_and_bounded() {
    let long = vec![b'x'; 600];
    let e = Repr::Error {
        code: ErrorCode::FileNotFound,
        message: &long,
    };
    let mut buf = [0xaau8; 700];
    let len = e.emit(&mut buf).unwrap();
    assert_eq!(len, MAX_ERROR_LEN);
    assert_eq!(len, e.buffer_len());
    assert_eq!(buf[len - 1], 0);
    assert!(buf[4..len - 1].iter().all(|&b| b == b'x'));
    let short = Repr::Error {
        code: ErrorCode::AccessViolation,
        message: b"Access violation",
    };
    let len = short.emit(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"\0\x05\0\x02Access violation\0");
}

#[test]
fn cve_t15_option_name_and_value_edge_cases() {
    let cases: &[(&[u8], Option<u64>, bool)] = &[
        (b"xblksize\01468\0", None, false),
        (b"blksize\01468\0blksize\0512\0", Some(1468), false),
        (b"BLKSIZE\01468\0", Some(1468), false),
        (b"BlkSize\01468\0", Some(1468), false),
        (b"blksize\01468abc\0", None, true),
        (b"blksize\0+1468\0", None, true),
        (b"blksize\0 1468\0", None, true),
        (b"blksize\0\0", None, true),
        (b"blksize\099999999999999999999\0", None, true),
        (b"blksize\0-1\0", None, true),
        (b"blksize\018446744073709551615\0", Some(u64::MAX), false),
        (b"blksize\0abc\0blksize\01468\0", None, true),
    ];
    for (opts, blksize, invalid) in cases {
        let mut body = b"f\0octet\0".to_vec();
        body.extend_from_slice(opts);
        let d = rrq(&body);
        let r = request(&d);
        assert_eq!(
            r.options.blksize,
            *blksize,
            "{:?}",
            String::from_utf8_lossy(opts)
        );
        assert_eq!(
            r.invalid_options.blksize,
            *invalid,
            "{:?}",
            String::from_utf8_lossy(opts)
        );
    }
}

#[test]
fn test_round_trip_every_kind() {
    let data = [1u8, 2, 3];
    let opts = TftpOptions {
        blksize: Some(1468),
        tsize: Some(33_554_433),
        timeout: Some(5),
        windowsize: Some(16),
    };
    for repr in [
        Repr::Rrq(Request::new("boot/vmlinuz", Mode::Octet, opts)),
        Repr::Wrq(Request::new("up", Mode::Netascii, TftpOptions::default())),
        Repr::Data {
            block: 65535,
            data: &data,
        },
        Repr::Data {
            block: 0,
            data: &[],
        },
        Repr::Ack { block: 0 },
        Repr::Error {
            code: ErrorCode::OptionRefused,
            message: b"tsize probe",
        },
        Repr::Oack { options: opts },
    ] {
        let mut buf = [0u8; 128];
        let len = repr.emit(&mut buf).unwrap();
        assert_eq!(len, repr.buffer_len());
        assert_eq!(Repr::parse(&buf[..len]).unwrap(), repr);
        assert_eq!(
            repr.emit(&mut buf[..len - 1]).unwrap_err(),
            Error::BufferTooSmall
        );
    }
}

#[test]
fn test_data_header_for_zero_copy_reads() {
    let mut buf = [0xffu8; 8];
    emit_data_header(258, &mut buf).unwrap();
    assert_eq!(&buf[..4], &[0, 3, 1, 2]);
    assert_eq!(
        emit_data_header(1, &mut buf[..3]).unwrap_err(),
        Error::BufferTooSmall
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn parse_any_bytes_then_emit_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(repr) = Repr::parse(&bytes) {
                let mut buf = vec![0u8; repr.buffer_len()];
                let len = repr.emit(&mut buf).unwrap();
                prop_assert_eq!(len, buf.len());
                let again = Repr::parse(&buf).unwrap();
                prop_assert_eq!(again, repr);
            }
        }

        #[test]
        fn requests_round_trip(
            name in "[a-zA-Z0-9_./-]{1,200}",
            netascii in any::<bool>(),
            blksize in proptest::option::of(any::<u64>()),
            tsize in proptest::option::of(any::<u64>()),
            timeout in proptest::option::of(any::<u64>()),
            windowsize in proptest::option::of(any::<u64>()),
        ) {
            let mode = if netascii { Mode::Netascii } else { Mode::Octet };
            let repr = Repr::Rrq(Request::new(&name, mode, TftpOptions { blksize, tsize, timeout, windowsize }));
            let mut buf = vec![0u8; repr.buffer_len()];
            prop_assert_eq!(repr.emit(&mut buf).unwrap(), buf.len());
            prop_assert_eq!(Repr::parse(&buf).unwrap(), repr);
        }
    }
}

#[test]
fn error_codes_and_options_read_as_words() {
    assert_eq!(ErrorCode::FileNotFound.to_string(), "file not found (1)");
    assert_eq!(ErrorCode::NotDefined.to_string(), "not defined (0)");
    assert_eq!(ErrorCode::OptionRefused.to_string(), "option refused (8)");
    assert_eq!(ErrorCode::from(9).to_string(), "code 9");
    for n in 0..=16u16 {
        let code = ErrorCode::from(n);
        assert_eq!(
            code.name().is_some(),
            !matches!(code, ErrorCode::Unknown(_)),
            "{n}"
        );
    }
    assert_eq!(TftpOptions::default().to_string(), "no options");
    let all = TftpOptions {
        blksize: Some(1468),
        tsize: Some(1_048_576),
        timeout: Some(3),
        windowsize: Some(16),
    };
    assert_eq!(
        all.to_string(),
        "blksize 1468, windowsize 16, timeout 3 s, tsize 1048576"
    );
    let some = TftpOptions {
        tsize: Some(0),
        ..TftpOptions::default()
    };
    assert_eq!(some.to_string(), "tsize 0");
    assert_eq!(Mode::Netascii.to_string(), "netascii");
}
