//! Each kind of boot client, played by ISC dhclient sending what that
//! firmware sends (option 93, option 60 `PXEClient:Arch:…` or
//! `HTTPClient:Arch:…`, option 77 `iPXE`), in a network namespace this
//! test creates: each gets the boot file `awl serve` is configured to give
//! its kind, in the reply dhclient itself parsed. (The QEMU tests boot the
//! real BIOS iPXE ROM and x64 OVMF; this covers the kinds no QEMU machine
//! here plays: arch 9, arch 11, and UEFI HTTP Boot.)

use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{require_tool, serve_dhcp, try_wait_until, NetnsPair, TempDir, Tmpfs};

/// One client kind: its dhclient.conf lines, and what dhclient must see.
struct Kind {
    name: &'static str,
    conf: &'static str,
    /// `new_filename` (the `file` field, mirrored in option 67).
    filename: &'static str,
    /// `new_vendor_class_identifier`: option 60 echoed (`PXEClient` to
    /// every PXE client, iPXE included; `HTTPClient` to HTTP Boot).
    vendor_class: Option<&'static str>,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "x64 UEFI PXE (arch 7)",
        conf: "send pxe-arch 7;\nsend vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";",
        filename: "x64/ipxe.efi",
        vendor_class: Some("PXEClient"),
    },
    Kind {
        name: "EFI BC PXE (arch 9)",
        conf: "send pxe-arch 9;\nsend vendor-class-identifier \"PXEClient:Arch:00009:UNDI:003016\";",
        filename: "x64/ipxe.efi",
        vendor_class: Some("PXEClient"),
    },
    Kind {
        name: "ARM64 UEFI PXE (arch 11)",
        conf: "send pxe-arch 11;\nsend vendor-class-identifier \"PXEClient:Arch:00011:UNDI:003001\";",
        filename: "arm64/ipxe.efi",
        vendor_class: Some("PXEClient"),
    },
    Kind {
        name: "BIOS PXE (arch 0)",
        conf: "send pxe-arch 0;\nsend vendor-class-identifier \"PXEClient:Arch:00000:UNDI:002001\";",
        filename: "bios/undionly.kpxe",
        vendor_class: Some("PXEClient"),
    },
    Kind {
        name: "x64 UEFI HTTP Boot (arch 16)",
        conf: "send pxe-arch 16;\nsend vendor-class-identifier \"HTTPClient:Arch:00016:UNDI:003001\";",
        filename: "http://10.77.64.1/boot/x64/ipxe.efi",
        vendor_class: Some("HTTPClient"),
    },
    Kind {
        name: "iPXE (option 77)",
        conf: "send pxe-arch 7;\nsend vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";\nsend user-class \"iPXE\";",
        filename: "http://10.77.64.1/boot.ipxe",
        vendor_class: Some("PXEClient"),
    },
];

#[test]
fn each_kind_of_boot_client_gets_its_boot_file() {
    require_tool("dhclient");
    let net = NetnsPair::new(64, 0);
    let dir = TempDir::new("dhcp-boot-clients");
    let server = serve_dhcp(
        &net,
        &dir,
        &[
            "--boot-bios",
            "bios/undionly.kpxe",
            "--boot-uefi-x64",
            "x64/ipxe.efi",
            "--boot-uefi-arm64",
            "arm64/ipxe.efi",
            "--http-boot",
            "http://10.77.64.1/boot/x64/ipxe.efi",
            "--ipxe-script",
            "http://10.77.64.1/boot.ipxe",
        ],
    );
    for (i, kind) in KINDS.iter().enumerate() {
        let env = run_dhclient(&net, &dir, i, kind.conf);
        assert!(
            env.contains("reason=BOUND"),
            "{}: no lease\n{env}\n{}",
            kind.name,
            server.log()
        );
        let got = |key: &str| got(&env, key);
        assert_eq!(
            got("filename").as_deref(),
            Some(kind.filename),
            "{}: boot file\n{env}",
            kind.name
        );
        assert_eq!(
            got("vendor_class_identifier").as_deref(),
            kind.vendor_class,
            "{}: option 60\n{env}",
            kind.name
        );
        // Back to no address for the next kind.
        let _ = Command::new("ip")
            .args(["-n", &net.client, "addr", "flush", "dev", &net.client_if])
            .status();
    }
    // Every decision is logged with the client's kind.
    let log = server.log();
    for arch in [
        "(x64 UEFI)",
        "(EFI BC)",
        "(ARM64 UEFI)",
        "(x86 BIOS)",
        "(x64 UEFI HTTP, HTTP boot)",
        "(x64 UEFI, iPXE)",
    ] {
        assert!(log.contains(arch), "{arch} not in the log:\n{log}");
    }
}

/// Machines of their own (`--dhcp-host`, as dnsmasq's): dhclient, with the
/// NIC's MAC set for each case, gets the fixed address, the boot file of
/// its own, or an address and no boot options; a client known by its
/// client identifier (option 61) gets its address whatever its MAC.
#[test]
fn machines_of_their_own_get_their_address_and_boot_file() {
    require_tool("dhclient");
    let net = NetnsPair::new(66, 0);
    let dir = TempDir::new("dhcp-machines");
    let server = serve_dhcp(
        &net,
        &dir,
        &[
            "--boot-uefi-x64",
            "x64/ipxe.efi",
            "--dhcp-host",
            "52:54:00:aa:66:01,10.77.66.20",
            "--dhcp-host",
            "52:54:00:aa:66:02,boot=custom/grubx64.efi",
            "--dhcp-host",
            "52:54:00:aa:66:03,netboot=no",
            "--dhcp-host",
            "id:01:52:54:00:99:99:99,10.77.66.21",
        ],
    );
    assert!(
        server
            .log()
            .contains("dhcp: 4 machines of their own (2 with fixed addresses, 1 never netboot)"),
        "{}",
        server.log()
    );
    let uefi =
        "send pxe-arch 7;\nsend vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";";
    let by_id = format!("{uefi}\nsend dhcp-client-identifier 01:52:54:00:99:99:99;");
    // (MAC, extra dhclient.conf lines, address wanted (None: the pool),
    // boot file wanted (None: no boot options)).
    let cases: [(&str, &str, Option<&str>, Option<&str>); 5] = [
        (
            "52:54:00:aa:66:01",
            uefi,
            Some("10.77.66.20"),
            Some("x64/ipxe.efi"),
        ),
        ("52:54:00:aa:66:02", uefi, None, Some("custom/grubx64.efi")),
        ("52:54:00:aa:66:03", uefi, None, None),
        (
            "52:54:00:aa:66:04",
            &by_id,
            Some("10.77.66.21"),
            Some("x64/ipxe.efi"),
        ),
        ("52:54:00:aa:66:05", uefi, None, Some("x64/ipxe.efi")),
    ];
    for (i, (mac, conf, address, filename)) in cases.into_iter().enumerate() {
        let env = bound_as(&net, &dir, i, mac, conf, &server);
        let got = |key: &str| got(&env, key);
        let ip = got("ip_address").unwrap_or_default();
        match address {
            Some(want) => assert_eq!(ip, want, "{mac}\n{env}"),
            None => assert!(
                ip.starts_with("10.77.66.1") && ip.len() == "10.77.66.100".len(),
                "{mac}: {ip} is not from the pool"
            ),
        }
        assert_eq!(got("filename").as_deref(), filename, "{mac}\n{env}");
    }
}

/// dhclient's run `n` on a NIC with `mac` and `conf` added to its
/// configuration, which must get a lease: what its script saw.
fn bound_as(
    net: &NetnsPair,
    dir: &TempDir,
    n: usize,
    mac: &str,
    conf: &str,
    server: &awl_tests::AwlServer,
) -> String {
    for args in [
        vec!["link", "set", "dev", &net.client_if, "address", mac],
        vec!["addr", "flush", "dev", &net.client_if],
    ] {
        let status = Command::new("ip")
            .args(["-n", &net.client])
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    }
    let env = run_dhclient(net, dir, n, conf);
    assert!(
        env.contains("reason=BOUND"),
        "{mac}: no lease\n{env}\n{}",
        server.log()
    );
    env
}

/// The value dhclient's script saw for `new_KEY`.
fn got(env: &str, key: &str) -> Option<String> {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("new_{key}=")))
        .map(|v| v.trim_matches('\'').to_string())
}

/// Runs dhclient once with `conf` added to its configuration, until it is
/// bound (or 30 s), and returns what its script saw.
fn run_dhclient(net: &NetnsPair, dir: &TempDir, n: usize, conf: &str) -> String {
    let env_file = dir.0.join(format!("env{n}"));
    let script = dir.0.join(format!("script{n}.sh"));
    std::fs::write(
        &script,
        format!("#!/bin/sh\nenv >> {}\n", env_file.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let conf_file = dir.0.join(format!("dhclient{n}.conf"));
    std::fs::write(
        &conf_file,
        format!(
            "option pxe-arch code 93 = unsigned integer 16;\n{conf}\n\
             request subnet-mask, routers, vendor-class-identifier;\n"
        ),
    )
    .unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.client, "dhclient", "-4", "-d", "-v"])
        .arg("-sf")
        .arg(&script)
        .arg("-cf")
        .arg(&conf_file)
        .arg("-lf")
        .arg(dir.0.join(format!("lease{n}")))
        .arg("-pf")
        .arg(dir.0.join(format!("pid{n}")))
        .arg(&net.client_if)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&env_file).unwrap_or_default();
    // The callers check what dhclient reported, with their own context.
    let _ = try_wait_until(Duration::from_secs(30), || read().contains("reason=BOUND"));
    let _ = child.kill();
    let _ = child.wait();
    read()
}

/// The inventory's systems are machines of their own too (one table with
/// `--dhcp-host`): dhclient gets a system's fixed address and boot file,
/// a system without a profile gets an address and no boot options, and an
/// edit from the CLI while awl serves changes the very next answer.
#[test]
fn inventory_systems_are_machines_of_their_own_too() {
    require_tool("dhclient");
    let net = NetnsPair::new(67, 0);
    let dir = TempDir::new("dhcp-systems");
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(
        &inventory,
        "[[system]]\nname = \"kiosk\"\nnetboot = \"always\"\nboot_file = \"custom/grubx64.efi\"\n\
         [[system.interface]]\nmac = \"52:54:00:aa:67:01\"\nip = \"10.77.67.20\"\n\n\
         [[system]]\nname = \"printer\"\n\
         [[system.interface]]\nmac = \"52:54:00:aa:67:02\"\nip = \"10.77.67.21\"\n",
    )
    .unwrap();
    let server = serve_dhcp(
        &net,
        &dir,
        &[
            "--boot-uefi-x64",
            "x64/ipxe.efi",
            "--inventory",
            inventory.to_str().unwrap(),
            "--dhcp-host",
            "52:54:00:aa:67:03,10.77.67.22",
        ],
    );
    let uefi =
        "send pxe-arch 7;\nsend vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";";
    let ask = |n: usize, mac: &str| {
        let env = bound_as(&net, &dir, n, mac, uefi, &server);
        (
            got(&env, "ip_address").unwrap_or_default(),
            got(&env, "filename"),
        )
    };
    let custom = Some("custom/grubx64.efi".to_string());
    assert_eq!(
        ask(0, "52:54:00:aa:67:01"),
        ("10.77.67.20".into(), custom.clone())
    );
    assert_eq!(ask(1, "52:54:00:aa:67:02"), ("10.77.67.21".into(), None));
    assert_eq!(
        ask(2, "52:54:00:aa:67:03"),
        ("10.77.67.22".into(), Some("x64/ipxe.efi".into()))
    );
    // An edit while awl serves: the printer now netboots a file of its own.
    let out = Command::new(awl_tests::awl_binary())
        .args(["system", "edit", "printer", "--netboot", "always"])
        .args(["--boot-file", "printer/boot.efi", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        ask(3, "52:54:00:aa:67:02"),
        ("10.77.67.21".into(), Some("printer/boot.efi".into()))
    );
    // `awl leases` names each lease's system; `--unknown` lists only the
    // machines no system names (the configured one here): the ones to add.
    let leases = |extra: &[&str]| -> Vec<(String, String)> {
        let out = Command::new(awl_tests::awl_binary())
            .args(["leases", "--json", "--lease-file"])
            .arg(dir.0.join("leases"))
            .arg("--inventory")
            .arg(&inventory)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = rows.as_array().unwrap().iter();
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
        rows.map(|r| (text(&r["mac"]), text(&r["system"])))
            .collect()
    };
    let mut all = leases(&[]);
    all.sort();
    let pair = |mac: &str, system: &str| (mac.to_string(), system.to_string());
    assert_eq!(
        all,
        [
            pair("52:54:00:aa:67:01", "kiosk"),
            pair("52:54:00:aa:67:02", "printer"),
            pair("52:54:00:aa:67:03", "-"),
        ]
    );
    assert_eq!(leases(&["--unknown"]), [pair("52:54:00:aa:67:03", "-")]);
}

/// Machines the inventory does not know are discovered
/// (docs/discovery.md): dhclient plays four machines, one a system, one a
/// configured host and two strangers (one sending its SMBIOS UUID);
/// `awl discovered` and `GET /api/v1/discovered` list the two strangers
/// with what their DHCP said. Once one is added to the inventory, the CLI
/// drops it at once and the server's list at its next offer; the list
/// outlives a `kill -9` of the server; the API forgets one.
#[test]
fn machines_the_inventory_does_not_know_are_listed_for_adoption() {
    require_tool("dhclient");
    require_tool("curl");
    let net = NetnsPair::new(68, 0);
    let dir = TempDir::new("discovery");
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(
        &inventory,
        "[[system]]\nname = \"known\"\n[[system.interface]]\nmac = \"52:54:00:aa:68:01\"\n",
    )
    .unwrap();
    let state = dir.0.join("state");
    let (inventory_arg, state_arg) = (inventory.to_str().unwrap(), state.to_str().unwrap());
    let start = || {
        serve_dhcp(
            &net,
            &dir,
            &[
                "--boot-uefi-x64",
                "x64/ipxe.efi",
                "--inventory",
                inventory_arg,
                "--state-dir",
                state_arg,
                "--http-listen",
                "10.77.68.1:80",
                "--dhcp-host",
                "52:54:00:aa:68:03,10.77.68.23",
            ],
        )
    };
    let server = start();
    let uefi =
        "send pxe-arch 7;\nsend vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";";
    let bios =
        "send pxe-arch 0;\nsend vendor-class-identifier \"PXEClient:Arch:00000:UNDI:002001\";";
    let guid: Vec<String> = (0x10..0x20).map(|b| format!("{b:02x}")).collect();
    let with_uuid = format!(
        "{uefi}\noption client-uuid code 97 = string;\nsend client-uuid 00:{};",
        guid.join(":")
    );
    bound_as(&net, &dir, 0, "52:54:00:aa:68:01", uefi, &server);
    let env = bound_as(&net, &dir, 1, "52:54:00:aa:68:02", &with_uuid, &server);
    let stranger_ip = got(&env, "ip_address").unwrap();
    bound_as(&net, &dir, 2, "52:54:00:aa:68:03", uefi, &server);
    bound_as(&net, &dir, 3, "52:54:00:aa:68:04", bios, &server);

    let discovered = || -> Vec<serde_json::Value> {
        let out = Command::new(awl_tests::awl_binary())
            .args(["discovered", "--json", "--inventory", inventory_arg])
            .args(["--state-dir", state_arg])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        rows.as_array().unwrap().clone()
    };
    let macs = |rows: &[serde_json::Value]| -> Vec<String> {
        let mut macs: Vec<String> = rows
            .iter()
            .map(|r| r["mac"].as_str().unwrap().to_string())
            .collect();
        macs.sort();
        macs
    };
    // Until the server's list (written at most once a second) has them.
    let wait_for = |want: &[&str], server: &awl_tests::AwlServer| {
        assert!(
            try_wait_until(Duration::from_secs(10), || macs(&discovered()) == want),
            "listed: {:?}\n{}",
            discovered(),
            server.log()
        );
    };
    let both = ["52:54:00:aa:68:02", "52:54:00:aa:68:04"];
    wait_for(&both, &server);
    let rows = discovered();
    let row = |mac: &str| rows.iter().find(|r| r["mac"] == mac).unwrap().clone();
    let stranger = row("52:54:00:aa:68:02");
    assert_eq!(
        stranger["uuid"], "13121110-1514-1716-1819-1a1b1c1d1e1f",
        "{stranger}"
    );
    assert_eq!(stranger["arch"], "x64 UEFI", "{stranger}");
    assert_eq!(stranger["address"], stranger_ip.as_str(), "{stranger}");
    assert!(stranger["offers"].as_u64() >= Some(1), "{stranger}");
    let bios_row = row("52:54:00:aa:68:04");
    assert_eq!(bios_row["arch"], "x86 BIOS", "{bios_row}");
    assert!(bios_row["uuid"].is_null(), "{bios_row}");
    assert!(
        server
            .log()
            .contains("discovery: 52:54:00:aa:68:02 (x64 UEFI) is not in the inventory"),
        "{}",
        server.log()
    );
    // The table, and the API, say the same.
    let out = Command::new(awl_tests::awl_binary())
        .args([
            "discovered",
            "--inventory",
            inventory_arg,
            "--state-dir",
            state_arg,
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("MAC ") && table.contains("52:54:00:aa:68:02  13121110-"),
        "{table}"
    );
    let api = Command::new("ip")
        .args(["netns", "exec", &net.server, "curl", "-sS", "--fail"])
        .arg("http://10.77.68.1/api/v1/discovered")
        .output()
        .unwrap();
    assert!(api.status.success(), "{api:?}");
    let api: serde_json::Value = serde_json::from_slice(&api.stdout).unwrap();
    assert_eq!(macs(api.as_array().unwrap()), both);

    // Adopted: gone from the CLI's list at once...
    let out = Command::new(awl_tests::awl_binary())
        .args(["system", "add", "adopted", "--mac", "52:54:00:aa:68:02"])
        .args(["--inventory", inventory_arg])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(macs(&discovered()), ["52:54:00:aa:68:04"]);
    // ...and from the server's own list once it answers the machine again.
    bound_as(&net, &dir, 4, "52:54:00:aa:68:02", uefi, &server);
    let file = state.join("discovered");
    assert!(
        try_wait_until(Duration::from_secs(10), || {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            text.contains("52:54:00:aa:68:04") && !text.contains("52:54:00:aa:68:02")
        }),
        "{}",
        std::fs::read_to_string(&file).unwrap_or_default()
    );

    // A kill -9, and a new server: what was listed stays, the new one adds.
    let first_seen = row("52:54:00:aa:68:04")["first_seen"].clone();
    drop(server);
    let server = start();
    bound_as(&net, &dir, 5, "52:54:00:aa:68:05", bios, &server);
    wait_for(&["52:54:00:aa:68:04", "52:54:00:aa:68:05"], &server);
    let kept = discovered();
    let kept = kept
        .iter()
        .find(|r| r["mac"] == "52:54:00:aa:68:04")
        .unwrap();
    assert_eq!(kept["first_seen"], first_seen, "{kept}");

    // Forgotten through the API (with its token): gone from the list and
    // the file at once; a wrong MAC, no token, or one not listed are
    // refused.
    let token = std::fs::read_to_string(state.join("api-token")).unwrap();
    let delete = |mac: &str, token: Option<&str>| -> String {
        let mut curl = Command::new("ip");
        curl.args(["netns", "exec", &net.server, "curl", "-sS", "-X", "DELETE"])
            .args(["-o", "/dev/null", "-w", "%{http_code}"]);
        if let Some(token) = token {
            curl.args(["-H", &format!("Authorization: Bearer {}", token.trim())]);
        }
        let out = curl
            .arg(format!("http://10.77.68.1/api/v1/discovered/{mac}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(delete("52:54:00:aa:68:05", None), "401");
    assert_eq!(delete("52:54:00:aa:68:05", Some(&token)), "204");
    assert_eq!(macs(&discovered()), ["52:54:00:aa:68:04"]);
    let from_api = Command::new("ip")
        .args(["netns", "exec", &net.server, "curl", "-sS", "--fail"])
        .arg("http://10.77.68.1/api/v1/discovered")
        .output()
        .unwrap();
    let from_api: serde_json::Value = serde_json::from_slice(&from_api.stdout).unwrap();
    assert_eq!(macs(from_api.as_array().unwrap()), ["52:54:00:aa:68:04"]);
    assert_eq!(delete("52:54:00:aa:68:05", Some(&token)), "404");
    assert_eq!(delete("not-a-mac", Some(&token)), "400");
    // It boots again: listed again.
    bound_as(&net, &dir, 6, "52:54:00:aa:68:05", bios, &server);
    wait_for(&["52:54:00:aa:68:04", "52:54:00:aa:68:05"], &server);
}

/// A full disk under the discovered list: the write fails and says so,
/// the file on disk stays as it was (whole, the machines it had), and the
/// machine seen meanwhile is written once there is room again.
#[test]
fn a_full_disk_keeps_the_discovered_list_and_it_is_written_once_there_is_room() {
    require_tool("dhclient");
    let net = NetnsPair::new(69, 0);
    let dir = TempDir::new("discovery-full");
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(&inventory, "").unwrap();
    let state = dir.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let disk = Tmpfs::new(&state, "64k");
    let server = serve_dhcp(
        &net,
        &dir,
        &[
            "--boot-bios",
            "undionly.kpxe",
            "--inventory",
            inventory.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    let bios =
        "send pxe-arch 0;\nsend vendor-class-identifier \"PXEClient:Arch:00000:UNDI:002001\";";
    let file = state.join("discovered");
    let listed = || std::fs::read_to_string(&file).unwrap_or_default();
    bound_as(&net, &dir, 0, "52:54:00:aa:69:01", bios, &server);
    assert!(
        try_wait_until(Duration::from_secs(10), || listed()
            .contains("52:54:00:aa:69:01")),
        "{}",
        server.log()
    );
    let filler = disk.fill();
    let before = listed();
    bound_as(&net, &dir, 1, "52:54:00:aa:69:02", bios, &server);
    server.wait_for_log(Duration::from_secs(10), &["No space left on device"]);
    assert_eq!(listed(), before, "the file is as it was");
    let rows: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{before}");
    // Room again: the machine seen meanwhile is written.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        try_wait_until(Duration::from_secs(10), || {
            let text = listed();
            text.contains("52:54:00:aa:69:01") && text.contains("52:54:00:aa:69:02")
        }),
        "{}\n{}",
        listed(),
        server.log()
    );
}
