//! `awl check` on a broken inventory (issue 11): every problem, each with
//! file, line and field, and a non-zero exit; a good one passes.

use std::process::Command;

use awl_tests::{awl_binary, TempDir};

const INVENTORY: &str = r#"[[distro]]
name = "d1"
kernel = "d1/vmlinuz"
initrd = ["d1/initrd"]
family = "redhat"

[[profile]]
name = "p1"
distro = "d1"
template = "broken.ks"

[[profile]]
name = "p2"
distro = "nodistro"

[[system]]
name = "s1"
profile = "p1"
[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "192.168.5.5"

[[system]]
name = "s2"
profile = "p3"
[[system.interface]]
mac = "52:54:00:00:00:01"
"#;

fn check(dir: &TempDir) -> (bool, String) {
    let out = Command::new(awl_binary())
        .args(["check", "--config"])
        .arg(dir.0.join("awl.toml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_broken_inventory_gets_every_problem_with_file_line_and_field() {
    let dir = TempDir::new("check");
    let root = dir.0.join("root");
    let templates = dir.0.join("templates");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("broken.ks"), "text\n{% for x in %}\n").unwrap();
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    std::fs::write(
        dir.0.join("awl.toml"),
        format!(
            "[tftp]\nroot = {root:?}\n[inventory]\nfile = {inventory:?}\ntemplates = {templates:?}\n\
             [[dhcp.relayed]]\nnetwork = \"10.1.0.0/16\"\nrange = \"10.1.0.10,10.1.0.20\"\n"
        ),
    )
    .unwrap();
    let (ok, out) = check(&dir);
    assert!(!ok, "{out}");
    let file = inventory.display().to_string();
    for line in [
        format!("{file}:3:10: distro[d1].kernel: d1/vmlinuz: no such file under"),
        format!("{file}:4:11: distro[d1].initrd[0]: d1/initrd: no such file under"),
        format!("{file}:10:12: profile[p1].template: broken.ks:2: syntax error"),
        format!("{file}:14:10: profile[p2].distro: no distro is named nodistro"),
        format!(
            "{file}:21:6: system[s1].interface[0].ip: 192.168.5.5 is outside every served subnet"
        ),
        format!("{file}:25:11: system[s2].profile: no profile is named p3"),
        format!("{file}:27:7: system[s2].interface[0].mac: 52:54:00:00:00:01 is also system s1's"),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("7 problem(s)"), "{out}");

    // Fixed, it passes.
    std::fs::create_dir_all(root.join("d1")).unwrap();
    std::fs::write(root.join("d1/vmlinuz"), b"k").unwrap();
    std::fs::write(root.join("d1/initrd"), b"i").unwrap();
    std::fs::write(
        templates.join("broken.ks"),
        "text\n{% for x in [1] %}{{ x }}{% endfor %}\n",
    )
    .unwrap();
    let fixed = INVENTORY
        .replace("distro = \"nodistro\"", "distro = \"d1\"")
        .replace("192.168.5.5", "10.1.0.5")
        .replace("profile = \"p3\"", "profile = \"p2\"");
    // s2's interface gets a MAC of its own.
    let fixed = fixed
        .trim_end()
        .rsplit_once("[[system.interface]]")
        .unwrap()
        .0
        .to_string()
        + "[[system.interface]]\nmac = \"52:54:00:00:00:02\"\n";
    std::fs::write(&inventory, fixed).unwrap();
    let (ok, out) = check(&dir);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{file}: ok")), "{out}");
}

#[test]
fn a_profile_whose_template_does_not_render_is_refused_when_added() {
    let dir = TempDir::new("check-profile");
    let templates = dir.0.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("broken.ks"), "text\n{% for x in %}\n").unwrap();
    std::fs::write(
        templates.join("good.ks"),
        "network --hostname={{ system.name }}\n",
    )
    .unwrap();
    let inventory = dir.0.join("inventory.toml");
    let awl = |args: &[&str]| {
        let out = Command::new(awl_binary())
            .args(args)
            .arg("--inventory")
            .arg(&inventory)
            .arg("--templates")
            .arg(&templates)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let distro = Command::new(awl_binary())
        .args(["distro", "add", "d", "--kernel", "d/k", "--initrd", "d/i"])
        .arg("--inventory")
        .arg(&inventory)
        .status()
        .unwrap();
    assert!(distro.success());
    let before = std::fs::read(&inventory).unwrap();
    let (ok, err) = awl(&[
        "profile",
        "add",
        "p",
        "--distro",
        "d",
        "--template",
        "broken.ks",
    ]);
    assert!(!ok);
    assert!(
        err.contains("profile p: template broken.ks: broken.ks:2: syntax error"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&inventory).unwrap(),
        before,
        "nothing written"
    );
    let (ok, err) = awl(&[
        "profile",
        "add",
        "p",
        "--distro",
        "d",
        "--template",
        "good.ks",
    ]);
    assert!(ok, "{err}");
    let (ok, err) = awl(&["profile", "edit", "p", "--template", "no-such-template"]);
    assert!(!ok);
    assert!(err.contains("template no-such-template"), "{err}");
}

/// `[[dhcp.host]]` and the inventory's systems are one table of machines:
/// a configured machine that names a system's MAC or fixed address is an
/// error, for `awl check` (at the table, naming the system and its line)
/// and for `awl serve`, which refuses to start.
#[test]
fn configured_machines_and_systems_are_one_table() {
    let dir = TempDir::new("check-hosts");
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(
        &inventory,
        "[[distro]]\nname = \"d\"\nkernel = \"d/k\"\ninitrd = [\"d/i\"]\n\n\
         [[profile]]\nname = \"p\"\ndistro = \"d\"\n\n\
         [[system]]\nname = \"s1\"\nprofile = \"p\"\n\
         [[system.interface]]\nmac = \"52:54:00:00:00:01\"\nip = \"127.0.0.5\"\n",
    )
    .unwrap();
    let config = |hosts: &str| {
        std::fs::write(
            dir.0.join("awl.toml"),
            format!(
                "[inventory]\nfile = {inventory:?}\n[dhcp]\ninterface = \"lo\"\nrange = \"127.0.0.100,127.0.0.110\"\n\
                 lease_file = {:?}\n{hosts}",
                dir.0.join("leases")
            ),
        )
        .unwrap();
    };
    config(
        "\n[[dhcp.host]]\nmac = \"52:54:00:00:00:09\"\n\n\
         [[dhcp.host]]\nmac = \"52:54:00:00:00:01\"\n\n\
         [[dhcp.host]]\nmac = \"52:54:00:00:00:02\"\nip = \"127.0.0.5\"\n",
    );
    let (ok, out) = check(&dir);
    assert!(!ok, "{out}");
    let awl_toml = dir.0.join("awl.toml").display().to_string();
    let inv = inventory.display().to_string();
    for line in [
        format!("{awl_toml}:11:1: dhcp.host: 52:54:00:00:00:01 is also system s1's ({inv}:10)"),
        format!("{awl_toml}:14:1: dhcp.host: 127.0.0.5 is also system s1's ({inv}:10)"),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains("2 problem(s)"), "{out}");
    assert!(!out.contains(&format!("{awl_toml}: ok")), "{out}");
    // `serve` says the same and does not start (bounded: it would
    // otherwise serve on loopback until killed).
    let serve = Command::new("timeout")
        .args(["30"])
        .arg(awl_binary())
        .args(["serve", "--config"])
        .arg(dir.0.join("awl.toml"))
        .args(["--tftp-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "[[dhcp.host]]: 52:54:00:00:00:01 is also system s1's ({inv}:10)"
        )),
        "{err}"
    );
    // A configured machine of its own passes.
    config("\n[[dhcp.host]]\nmac = \"52:54:00:00:00:09\"\nip = \"127.0.0.6\"\n");
    let (ok, out) = check(&dir);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("{awl_toml}: ok")), "{out}");
}

/// `awl inventory import-hosts` makes the `[[dhcp.host]]` machines systems
/// without a profile; `awl check` then names the tables to remove (they
/// clash with the systems made from them), and passes once they are gone.
/// A client identifier that holds a MAC (type 1) becomes a system by that
/// MAC; another kind of client identifier stays in the configuration.
#[test]
fn configured_machines_move_into_the_inventory() {
    let dir = TempDir::new("import-hosts");
    let inventory = dir.0.join("inventory.toml");
    let config = dir.0.join("awl.toml");
    let head = format!("[inventory]\nfile = {inventory:?}\n");
    std::fs::write(
        &config,
        format!(
            "{head}\n[[dhcp.host]]\nmac = \"52:54:00:00:00:01\"\nip = \"10.0.0.20\"\nboot_file = \"custom/grubx64.efi\"\n\n\
             [[dhcp.host]]\nmac = \"52:54:00:00:00:02\"\nnetboot = false\n\n\
             [[dhcp.host]]\nclient_id = \"01:02:03\"\n\n\
             [[dhcp.host]]\nclient_id = \"01:52:54:00:00:00:03\"\nip = \"10.0.0.30\"\n"
        ),
    )
    .unwrap();
    let awl = |args: &[&str]| {
        let out = Command::new(awl_binary())
            .args(args)
            .arg("--inventory")
            .arg(&inventory)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let said = awl(&[
        "inventory",
        "import-hosts",
        "--config",
        config.to_str().unwrap(),
    ]);
    for line in [
        "system host-52-54-00-00-00-01: added",
        "system host-52-54-00-00-00-02: added",
        "system host-52-54-00-00-00-03: added",
        "id:01:02:03: left in",
        "3 system(s) added",
    ] {
        assert!(said.contains(line), "{line:?} not in:\n{said}");
    }
    let show: serde_json::Value = serde_json::from_str(&awl(&[
        "system",
        "show",
        "host-52-54-00-00-00-01",
        "--json",
    ]))
    .unwrap();
    assert_eq!(show["boot_file"], "custom/grubx64.efi", "{show}");
    assert_eq!(show["netboot"], "always", "{show}");
    assert_eq!(show["interface"][0]["ip"], "10.0.0.20", "{show}");
    let show: serde_json::Value = serde_json::from_str(&awl(&[
        "system",
        "show",
        "host-52-54-00-00-00-02",
        "--json",
    ]))
    .unwrap();
    assert_eq!(show["netboot"], "never", "{show}");
    let show: serde_json::Value = serde_json::from_str(&awl(&[
        "system",
        "show",
        "host-52-54-00-00-00-03",
        "--json",
    ]))
    .unwrap();
    assert_eq!(show["interface"][0]["mac"], "52:54:00:00:00:03", "{show}");
    assert_eq!(show["interface"][0]["ip"], "10.0.0.30", "{show}");
    // A second run adds nothing.
    let again = awl(&[
        "inventory",
        "import-hosts",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        again.contains("52:54:00:00:00:01: already system host-52-54-00-00-00-01")
            && !again.contains("added"),
        "{again}"
    );
    // Both places name them now: check says which tables to remove.
    let (ok, out) = check(&dir);
    assert!(!ok, "{out}");
    // Each table twice but for 00:02's (no address) and 01:02:03.
    assert!(out.contains("5 problem(s)"), "{out}");
    assert!(
        out.contains("id:01:52:54:00:00:00:03 is also system host-52-54-00-00-00-03's"),
        "{out}"
    );
    std::fs::write(
        &config,
        format!("{head}\n[[dhcp.host]]\nclient_id = \"01:02:03\"\n"),
    )
    .unwrap();
    let (ok, out) = check(&dir);
    assert!(ok, "{out}");
}
