//! The inventory through the real `awl` binary: `awl distro|profile|system
//! add|list|show|edit|remove`, `--resolved`, concurrent edits, `kill -9`
//! in the middle of edits, a full disk, and `awl inventory check` naming
//! file, line and field of every problem.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use awl::inventory::file;
use awl_tests::{awl_binary, TempDir, Tmpfs};
use serde_json::{json, Value};

/// Splits a command line at spaces outside single quotes, as a shell
/// would (for readable tests).
fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// `awl LINE --inventory FILE`.
fn awl(inventory: &Path, line: &str) -> Output {
    Command::new(awl_binary())
        .args(words(line))
        .arg("--inventory")
        .arg(inventory)
        .env_remove("AWL_INVENTORY")
        .output()
        .expect("run awl")
}

/// Runs it and returns its standard output; fails on a non-zero exit.
fn ok(inventory: &Path, line: &str) -> String {
    let out = awl(inventory, line);
    assert!(
        out.status.success(),
        "awl {line} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs it expecting failure; returns its standard error.
fn fails(inventory: &Path, line: &str) -> String {
    let out = awl(inventory, line);
    assert!(!out.status.success(), "awl {line} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

fn json_of(inventory: &Path, line: &str) -> Value {
    let text = ok(inventory, line);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{line}: {e}: {text}"))
}

/// The names of the systems in the file, read by awl's own parser (which
/// also proves the file whole and valid).
fn systems_in(inventory: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(inventory).unwrap();
    let inv = file::parse(&text, Some(inventory)).unwrap_or_else(|p| panic!("{p}"));
    inv.systems.into_iter().map(|s| s.name).collect()
}

/// A distro, two profiles (one inheriting) and two systems.
fn populate(inv: &Path) {
    ok(
        inv,
        "distro add debian-12 --kernel debian-12/linux --initrd debian-12/initrd.gz \
         --initrd firmware.cpio.gz --family debian --arch x86_64 \
         --tree http://deb.debian.org/debian --kernel-args 'console=tty0 quiet priority=critical'",
    );
    ok(
        inv,
        "profile add base --distro debian-12 --template preseed \
         --kernel-args console=ttyS0,115200 --var 'packages=[\"openssh-server\"]' --var timezone=UTC",
    );
    ok(
        inv,
        "profile add web --parent base --kernel-args '-quiet splash' --var 'packages=[\"nginx\"]'",
    );
    ok(
        inv,
        "system add web1 --mac 52:54:00:12:34:56 --ip 10.0.0.20 --hostname web1 --profile web \
         --netboot once --kernel-args priority=low --var timezone=Europe/Paris \
         --secret 'root_password_hash=$6$salt$hash'",
    );
    ok(
        inv,
        "system add printer --mac 52:54:00:00:00:99 --ip 10.0.0.99",
    );
}

#[test]
fn add_list_show_edit_remove_from_the_command_line() {
    let dir = TempDir::new("inv-cli");
    let inv = dir.0.join("inventory.toml");
    populate(&inv);

    let distros = json_of(&inv, "distro list --json");
    assert_eq!(distros.as_array().unwrap().len(), 1, "{distros}");
    assert_eq!(distros[0]["name"], "debian-12");
    assert_eq!(
        distros[0]["initrd"],
        json!(["debian-12/initrd.gz", "firmware.cpio.gz"])
    );
    assert_eq!(distros[0]["family"], "debian");
    let profiles = json_of(&inv, "profile list --json");
    assert_eq!(profiles[1]["parent"], "base");
    assert_eq!(profiles[1]["vars"]["packages"], json!(["nginx"]));

    let web1 = json_of(&inv, "system show web1 --json");
    assert_eq!(web1["interface"][0]["mac"], "52:54:00:12:34:56");
    assert_eq!(web1["interface"][0]["ip"], "10.0.0.20");
    assert_eq!(web1["netboot"], "once");
    // Secrets are hidden unless asked for.
    assert_ne!(web1["secrets"]["root_password_hash"], "$6$salt$hash");
    let shown = json_of(&inv, "system show web1 --json --show-secrets");
    assert_eq!(shown["secrets"]["root_password_hash"], "$6$salt$hash");
    let listed = ok(&inv, "system list");
    assert!(
        listed.contains("web1") && listed.contains("printer"),
        "{listed}"
    );
    assert!(!listed.contains("$6$salt"), "{listed}");
    // Found by what a person has in hand (as `cobbler system find`):
    // every filter given must match; a MAC with colons or dashes.
    let names = |line: &str| -> Vec<String> {
        let found = json_of(&inv, &format!("system list --json {line}"));
        let found = found.as_array().unwrap().iter();
        found
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("--mac 52-54-00-00-00-99"), ["printer"]);
    assert_eq!(names("--ip 10.0.0.20"), ["web1"]);
    assert_eq!(names("--hostname WEB1"), ["web1"]);
    assert_eq!(names("--profile web"), ["web1"]);
    assert_eq!(names("--profile ''"), ["printer"]);
    assert!(names("--profile web --ip 10.0.0.99").is_empty());
    let found = ok(&inv, "system list --mac 52:54:00:12:34:56");
    assert!(
        found.contains("web1") && !found.contains("printer"),
        "{found}"
    );
    let e = fails(&inv, "system list --ip 10.0.0");
    assert!(e.contains("--ip"), "{e}");
    // `show` without --json prints the entry as the file holds it.
    let toml = ok(&inv, "system show printer");
    assert!(
        toml.contains("[[system]]") && toml.contains("ip = \"10.0.0.99\""),
        "{toml}"
    );

    // Edits change fields; --remove-var drops one.
    ok(
        &inv,
        "system edit web1 --ip 10.0.0.21 --remove-var timezone",
    );
    let web1 = json_of(&inv, "system show web1 --json");
    assert_eq!(web1["interface"][0]["ip"], "10.0.0.21");
    assert!(web1.get("vars").is_none(), "{web1}");

    // What is still used cannot go, and the refusal says by whom.
    let before = std::fs::read(&inv).unwrap();
    let e = fails(&inv, "distro remove debian-12");
    assert!(
        e.contains("distro debian-12 is used by profile base"),
        "{e}"
    );
    let e = fails(&inv, "profile remove base");
    assert!(e.contains("profile base is used by profile web"), "{e}");
    // An edit that would make the inventory invalid is refused, file untouched.
    let e = fails(&inv, "system add web2 --mac 52:54:00:12:34:56");
    assert!(
        e.contains("system[web2].interface[0].mac: 52:54:00:12:34:56 is also system web1's"),
        "{e}"
    );
    // A UUID that says "none" (SMBIOS: all zeros or all ones) would be
    // every machine that has none.
    for none in [
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ] {
        let e = fails(&inv, &format!("system add web4 --uuid {none}"));
        assert!(
            e.contains(&format!(
                "system[web4].uuid: {none} is the UUID of a machine that has none"
            )),
            "{e}"
        );
    }
    let e = fails(
        &inv,
        "system add web3 --mac 52:54:00:12:34:57 --profile nosuch",
    );
    assert!(
        e.contains("system[web3].profile: no profile is named nosuch"),
        "{e}"
    );
    let e = fails(&inv, "profile edit base --parent web");
    assert!(e.contains("cycle"), "{e}");
    assert_eq!(std::fs::read(&inv).unwrap(), before);

    ok(&inv, "system remove printer");
    assert_eq!(systems_in(&inv), ["web1"]);
    let checked = ok(&inv, "inventory check");
    assert!(checked.ends_with(": ok\n"), "{checked}");
}

#[test]
fn resolved_shows_the_merged_view_and_where_each_value_came_from() {
    let dir = TempDir::new("inv-resolved");
    let inv = dir.0.join("inventory.toml");
    populate(&inv);
    let r = json_of(&inv, "system show web1 --resolved --json");
    assert_eq!(
        r["command_line"], "console=ttyS0,115200 priority=low splash",
        "{r}"
    );
    assert_eq!(
        r["boot"]["kernel_args"],
        json!([
            {"value": "console=ttyS0,115200", "from": {"profile": "base"}},
            {"value": "priority=low", "from": {"system": "web1"}},
            {"value": "splash", "from": {"profile": "web"}},
        ])
    );
    assert_eq!(r["boot"]["profiles"], json!(["base", "web"]));
    assert_eq!(r["boot"]["kernel"], "debian-12/linux");
    assert_eq!(
        r["boot"]["template"],
        json!({"value": "preseed", "from": {"profile": "base"}})
    );
    assert_eq!(
        r["vars"]["packages"],
        json!({"value": ["nginx"], "from": {"profile": "web"}})
    );
    assert_eq!(
        r["vars"]["timezone"],
        json!({"value": "Europe/Paris", "from": {"system": "web1"}})
    );
    assert_eq!(
        r["netboot"],
        json!({"value": "once", "from": {"system": "web1"}})
    );

    let text = ok(&inv, "system show web1 --resolved");
    let line = |field: &str, value: &str| {
        text.lines()
            .find(|l| l.starts_with(field) && l.contains(value))
            .unwrap_or_else(|| panic!("no {field} {value} in:\n{text}"))
            .to_string()
    };
    assert!(
        line("kernel_args", "console=ttyS0,115200").ends_with("profile base"),
        "{text}"
    );
    assert!(
        line("kernel_args", "priority=low").ends_with("system web1"),
        "{text}"
    );
    assert!(
        line("kernel ", "debian-12/linux").ends_with("distro debian-12"),
        "{text}"
    );
    assert!(
        line("vars.timezone", "Europe/Paris").ends_with("system web1"),
        "{text}"
    );
    assert!(
        text.starts_with("system web1: console=ttyS0,115200 priority=low splash\n"),
        "{text}"
    );

    // A system without a profile is a reservation, and never netboots.
    let r = json_of(&inv, "system show printer --resolved --json");
    assert_eq!(r["boot"], Value::Null);
    assert_eq!(r["netboot"], json!({"value": "never", "from": "default"}));
}

#[test]
fn twenty_concurrent_adds_all_survive() {
    let dir = TempDir::new("inv-concurrent");
    let inv = dir.0.join("inventory.toml");
    let children: Vec<_> = (1..=20)
        .map(|i| {
            Command::new(awl_binary())
                .args(["system", "add", &format!("s{i}"), "--mac"])
                .arg(format!("52:54:00:00:01:{i:02x}"))
                .args(["--ip", &format!("10.0.1.{i}")])
                .arg("--inventory")
                .arg(&inv)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn awl")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut names = systems_in(&inv);
    names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=20).map(|i| format!("s{i}")).collect();
    assert_eq!(names, expected);
    let listed = json_of(&inv, "system list --json");
    assert_eq!(listed.as_array().unwrap().len(), 20);
}

/// A hand-written inventory keeps its comments through every kind of
/// edit: only the entries an edit changes are rewritten.
#[test]
fn edits_keep_the_comments_of_a_hand_written_file() {
    let dir = TempDir::new("inv-comments");
    let inv = dir.0.join("inventory.toml");
    populate(&inv);
    let text = std::fs::read_to_string(&inv).unwrap();
    let hand = text
        .replace("[[distro]]", "# mirrored nightly\n[[distro]]")
        .replace(
            "[[profile]]\nname = \"web\"",
            "# the front end\n[[profile]]\nname = \"web\"",
        )
        .replace(
            "[[system]]\nname = \"printer\"",
            "# by the door\n[[system]]\nname = \"printer\"",
        );
    std::fs::write(&inv, &hand).unwrap();
    let comments = ["# mirrored nightly", "# the front end", "# by the door"];
    let all_kept = |after: &str| {
        let now = std::fs::read_to_string(&inv).unwrap();
        for c in comments {
            assert!(now.contains(c), "{c} lost by {after}:\n{now}");
        }
    };
    ok(
        &inv,
        "profile edit base --var timezone=UTC --kernel-args console=ttyS1",
    );
    all_kept("profile edit");
    ok(&inv, "distro edit debian-12 --kernel-args quiet");
    all_kept("distro edit");
    ok(&inv, "system edit web1 --ip 10.0.0.22");
    all_kept("system edit");
    ok(&inv, "profile add spare --parent base");
    all_kept("profile add");
    ok(
        &inv,
        "distro add other --kernel o/linux --initrd o/initrd.gz",
    );
    all_kept("distro add");
    ok(&inv, "profile remove spare");
    all_kept("profile remove");
    ok(&inv, "distro remove other");
    all_kept("distro remove");
    let now = std::fs::read_to_string(&inv).unwrap();
    assert!(
        now.contains("timezone = \"UTC\"") && now.contains("quiet"),
        "{now}"
    );
    let checked = ok(&inv, "inventory check");
    assert!(checked.ends_with(": ok\n"), "{checked}");
}

#[test]
fn adds_append_to_the_file_and_still_see_hand_edits() {
    let dir = TempDir::new("inv-append");
    let inv = dir.0.join("inventory.toml");
    populate(&inv);
    ok(
        &inv,
        "system add db1 --mac 52:54:00:00:00:a1 --profile web --secret k=v",
    );
    // What the adds appended is what a whole rewrite writes.
    let text = std::fs::read_to_string(&inv).unwrap();
    let parsed = file::parse(&text, Some(&inv)).unwrap();
    assert_eq!(file::to_toml(&parsed).unwrap(), text);
    assert!(dir.0.join(".inventory.toml.digest").exists());

    // A system added by hand at the end: an add sees its MAC.
    let by_hand =
        "\n[[system]]\nname = \"hand\"\n\n[[system.interface]]\nmac = \"52:54:00:00:00:b1\"\n";
    std::fs::write(&inv, format!("{text}{by_hand}")).unwrap();
    let line = text.lines().count() + 2;
    let e = fails(&inv, "system add other --mac 52:54:00:00:00:b1");
    assert!(
        e.contains(&format!(
            "52:54:00:00:00:b1 is also system hand's (line {line})"
        )),
        "{e}"
    );
    ok(&inv, "system add other --mac 52:54:00:00:00:b2");

    // A system removed by hand: its name and MAC are free again.
    let text = std::fs::read_to_string(&inv).unwrap();
    let at = text.find("\n[[system]]\nname = \"printer\"").unwrap();
    let end = text[at + 1..]
        .find("\n[[system]]")
        .map_or(text.len(), |e| at + 1 + e);
    std::fs::write(&inv, format!("{}{}", &text[..at + 1], &text[end + 1..])).unwrap();
    assert!(!systems_in(&inv).contains(&"printer".to_string()));
    ok(
        &inv,
        "system add printer --mac 52:54:00:00:00:99 --ip 10.0.0.99",
    );

    // A digest that is garbage is not used.
    std::fs::write(dir.0.join(".inventory.toml.digest"), "{not json").unwrap();
    ok(&inv, "system add last --mac 52:54:00:00:00:c1");
    let e = fails(&inv, "system add last2 --mac 52:54:00:00:00:c1");
    assert!(e.contains("is also system last's"), "{e}");
    assert_eq!(
        systems_in(&inv),
        ["web1", "db1", "hand", "other", "printer", "last"]
    );
    // Secrets stay out of the digest.
    let digest = std::fs::read_to_string(dir.0.join(".inventory.toml.digest")).unwrap();
    assert!(
        !digest.contains("salt") && !digest.contains("Europe"),
        "{digest}"
    );
}

/// An inventory of `n` reservations, large enough that writing it takes
/// a while (so kills land inside edits).
fn big_inventory(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        text += &format!(
            "[[system]]\nname = \"big{i}\"\n\n[[system.interface]]\nmac = \"52:54:01:00:{:02x}:{:02x}\"\n\n",
            i / 256,
            i % 256
        );
    }
    text
}

#[test]
fn kill_9_during_a_stream_of_edits_leaves_a_whole_file_with_every_reported_edit() {
    let dir = TempDir::new("inv-kill");
    let inv = dir.0.join("inventory.toml");
    std::fs::write(&inv, big_inventory(1500)).unwrap();
    // Adds (appended), and every third one an edit of a system in the
    // middle of the file (its own lines rewritten) instead.
    let add = |i: usize| {
        let mut command = Command::new(awl_binary());
        if i % 3 == 2 {
            command.args(["system", "edit", &format!("big{}", i * 40), "--var"]);
            command.arg(format!("kill={i}"));
        } else {
            command.args(["system", "add", &format!("k{i}"), "--mac"]);
            command.arg(format!("52:54:02:00:{:02x}:{:02x}", i / 256, i % 256));
        }
        command
            .arg("--inventory")
            .arg(&inv)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn awl")
    };
    // The first edit reads the hand-written file whole and leaves the
    // digest that later adds build on.
    assert!(add(0).wait().unwrap().success());
    // How long one edit takes here, to spread the kills across it.
    let start = Instant::now();
    assert!(add(1).wait().unwrap().success());
    let took = start.elapsed();
    // What a finished command leaves: system kI, or the edit I.
    let done = |i: usize| {
        if i % 3 == 2 {
            format!("edit{i}")
        } else {
            format!("k{i}")
        }
    };
    let mut reported = vec!["k0".to_string(), "k1".to_string()];
    let (mut killed, mut finished, mut torn) = (0, 0, 0);
    for i in 2..=31 {
        let mut child = add(i);
        let delay = took.mul_f64((i * 37 % 31) as f64 / 25.0);
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success());
                finished += 1;
                reported.push(done(i));
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                let status = child.wait().unwrap();
                if status.success() {
                    finished += 1;
                    reported.push(done(i));
                } else {
                    killed += 1;
                    // Killed between creating the new version and the rename.
                    torn += usize::from(dir.0.join(".inventory.toml.tmp").exists());
                }
            }
        }
        // Whole and valid after every kill, holding every reported edit.
        let text = std::fs::read_to_string(&inv).unwrap();
        let now = file::parse(&text, None).unwrap_or_else(|p| panic!("{p}"));
        for name in &reported {
            let edited = name
                .strip_prefix("edit")
                .map(|i| (format!("big{}", i.parse::<usize>().unwrap() * 40), i));
            match edited {
                Some((big, i)) => assert_eq!(
                    now.system(&big)
                        .and_then(|s| s.vars.get("kill"))
                        .and_then(|v| v.as_integer()),
                    Some(i.parse().unwrap()),
                    "the edit of {big} reported success but is not in the file"
                ),
                None => assert!(
                    now.system(name).is_some(),
                    "{name} reported success but is not in the file"
                ),
            }
        }
        let big = now.systems.iter().filter(|s| s.name.starts_with("big"));
        assert_eq!(big.count(), 1500);
    }
    eprintln!(
        "one edit took {took:?}; {killed} killed ({torn} while writing), {finished} finished"
    );
    assert!(
        killed >= 5,
        "too few kills landed inside an edit ({killed})"
    );
    // And edits go on after the kills (a left temporary file is no harm).
    assert!(add(100).wait().unwrap().success());
    assert!(systems_in(&inv).contains(&"k100".to_string()));
}

#[test]
fn a_full_disk_fails_the_edit_and_keeps_the_old_file() {
    let dir = TempDir::new("inv-full");
    let mount = dir.0.join("disk");
    std::fs::create_dir(&mount).unwrap();
    let _disk = Tmpfs::new(&mount, "256k");
    let inv = mount.join("inventory.toml");
    ok(&inv, "system add a --mac 52:54:00:00:00:01");
    // Fill what is left, then ask for a bigger file.
    let filler = mount.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let before = std::fs::read(&inv).unwrap();
    let long = "x".repeat(20_000);
    let e = fails(&inv, &format!("system edit a --var note={long}"));
    assert!(e.contains("No space left"), "{e}");
    assert_eq!(std::fs::read(&inv).unwrap(), before);
    assert_eq!(systems_in(&inv), ["a"]);
    assert!(!mount.join(".inventory.toml.tmp").exists());
    // An add (appended, checked against the digest) fails the same way.
    let e = fails(
        &inv,
        &format!("system add b --mac 52:54:00:00:00:02 --var note={long}"),
    );
    assert!(e.contains("No space left"), "{e}");
    assert_eq!(std::fs::read(&inv).unwrap(), before);
    assert!(!mount.join(".inventory.toml.tmp").exists());
    // With room again, adds go on and see what is there.
    std::fs::remove_file(&filler).unwrap();
    ok(
        &inv,
        &format!("system add b --mac 52:54:00:00:00:02 --var note={long}"),
    );
    let e = fails(&inv, "system add c --mac 52:54:00:00:00:02");
    assert!(e.contains("is also system b's"), "{e}");
    assert_eq!(systems_in(&inv), ["a", "b"]);
}

#[test]
fn check_names_file_line_and_field_of_every_problem() {
    let dir = TempDir::new("inv-check");
    let files = dir.0.join("files");
    std::fs::create_dir_all(files.join("deb")).unwrap();
    std::fs::write(files.join("deb/initrd.gz"), b"initrd").unwrap();
    let inv = dir.0.join("broken.toml");
    std::fs::write(
        &inv,
        r#"[[distro]]
name = "deb"
kernel = "deb/linux"
initrd = "deb/initrd.gz"
family = "debian"

[[profile]]
name = "a"
parent = "b"

[[profile]]
name = "b"
parent = "a"

[[profile]]
name = "web"
distro = "deb"

[[system]]
name = "one"
profile = "web"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.20"

[[system]]
name = "two"
profile = "nosuch"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.20"

[[system]]
name = "three"

[[system.interface]]
mac = "52:54:00:00:00:03"
ip = "192.168.7.3"
"#,
    )
    .unwrap();
    let out = awl(
        &inv,
        &format!(
            "inventory check --files-root {} --subnet 10.0.0.0/24",
            files.display()
        ),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let f = inv.display();
    let expected = [
        format!("{f}:3:10: distro[deb].kernel: deb/linux: no such file under {}", files.display()),
        format!("{f}:9:10: profile[a].parent: profiles inherit in a cycle: a -> b -> a"),
        format!("{f}:13:10: profile[b].parent: profiles inherit in a cycle: b -> a -> b"),
        format!("{f}:29:11: system[two].profile: no profile is named nosuch"),
        format!("{f}:32:7: system[two].interface[0].mac: 52:54:00:00:00:01 is also system one's (line 19)"),
        format!("{f}:33:6: system[two].interface[0].ip: 10.0.0.20 is also system one's (line 19)"),
        format!("{f}:40:6: system[three].interface[0].ip: 192.168.7.3 is outside every served subnet (10.0.0.0/24)"),
        format!("awl: {f}: 7 problem(s)"),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines, expected, "{stderr}");

    // A missing file is a problem too; a clean one is ok.
    let e = fails(&dir.0.join("nosuch.toml"), "inventory check");
    assert!(e.contains("nosuch.toml: no such file"), "{e}");
    let clean = dir.0.join("clean.toml");
    ok(
        &clean,
        "distro add deb --kernel deb/initrd.gz --initrd deb/initrd.gz",
    );
    ok(
        &clean,
        &format!(
            "inventory check --files-root {} --subnet 10.0.0.0/255.255.255.0",
            files.display()
        ),
    );
}
