//! The built-in answer files and GRUB configs, rendered through the library
//! for realistic machines and checked by validators nobody here wrote:
//! pykickstart's `ksvalidator` (kickstart), debian's
//! `debconf-set-selections --checkonly` (preseed), `cloud-init schema`
//! (autoinstall user-data) and GRUB's `grub-script-check`. Each file is
//! checked for a minimal machine, an unknown one and a full one (secrets,
//! three interfaces, variables), and a few facts are read back: host name,
//! tree and callback URLs, and secrets present for their machine only.

use std::path::{Path, PathBuf};
use std::process::Command;

use awl::render::{
    installer_kernel_args, names, DistroCtx, Family, InterfaceCtx, MenuContext, MenuEntry,
    RenderContext, Renderer, SystemCtx, UrlsCtx, Vars,
};
use awl_tests::{require_tool, TempDir};

const ROOT_HASH: &str = "$6$awlsample$A5r6e13BCQMxjsWXKKaMrBwUclpd/bV8neNgoqqjhpYdDnIUneYMaIetzZL28m/VtLWY86pTZlAfV0SPqxv.n0";
const USER_HASH: &str = "$6$awluser$L8p9dz3F9qZvc8t.atXjsrFmoZTeHCEkFL047ntb0a6vVoHSixb9wv01xUlhCMtbmu2KEz6zfRkvarf0gUWSW1";
const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAwlTestKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA admin@lab";
const KEY_B: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCawlTestKeyB bob's laptop";
const TOKEN: &str = "5f0c2a9d41e87b3c6d1e0f9a8b7c6d5e";
const IMAGE_SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The tree a distro of the family installs from.
fn tree(family: Family) -> &'static str {
    match family {
        Family::Redhat => "http://10.0.0.1:8080/trees/rocky9/BaseOS/x86_64/os/",
        Family::Debian => "http://deb.lab.example:3142/debian",
        _ => "http://10.0.0.1:8080/isos/ubuntu-24.04-live-server-amd64.iso",
    }
}

fn distro(family: Family) -> DistroCtx {
    let name = match family {
        Family::Redhat => "rocky9",
        Family::Debian => "debian12",
        Family::Image => "debian-12-image",
        _ => "ubuntu2404",
    };
    let image = family == Family::Image;
    DistroCtx {
        name: name.into(),
        family,
        arch: "x86_64".into(),
        tree: tree(family).into(),
        kernel: format!("distros/{name}/vmlinuz"),
        initrds: vec![format!("distros/{name}/initrd")],
        image: if image {
            "images/debian-12.img".into()
        } else {
            String::new()
        },
        image_sha256: if image {
            IMAGE_SHA256.into()
        } else {
            String::new()
        },
        image_size: if image { 504_365_056 } else { 0 },
    }
}

/// A machine known by its MAC only: no host name, no secrets, no
/// variables, no callback.
fn minimal(family: Family) -> RenderContext {
    let mac = "52:54:00:00:00:01";
    let answer = match family {
        Family::Ubuntu => "http://10.0.0.1:8080/answer/m1/",
        _ => "http://10.0.0.1:8080/answer/m1",
    };
    let mut ctx = RenderContext {
        system: Some(SystemCtx {
            name: "m1".into(),
            hostname: None,
            mac: mac.into(),
            macs: vec![mac.into()],
            ip: None,
            interfaces: vec![InterfaceCtx {
                mac: mac.into(),
                ip: None,
                hostname: None,
            }],
            uuid: None,
        }),
        profile: format!("{}-default", distro(family).name),
        distro: distro(family),
        server: RenderContext::sample().server,
        urls: UrlsCtx {
            answer_file: answer.into(),
            callback: None,
            tree: tree(family).into(),
            kernel: String::new(),
            initrds: Vec::new(),
            image: if family == Family::Image {
                "http://10.0.0.1:8080/boot/images/debian-12.img".into()
            } else {
                String::new()
            },
            nocloud: "http://10.0.0.1:8080/answer/system/m1/".into(),
        },
        ..RenderContext::default()
    };
    ctx.kernel_args = installer_kernel_args(&ctx);
    ctx
}

/// A machine awl does not know, given a profile.
fn unknown(family: Family) -> RenderContext {
    RenderContext {
        system: None,
        ..minimal(family)
    }
}

/// A machine with everything: three interfaces, a fixed address, secrets
/// (one key comment with a quote), variables, an armed callback.
fn full(family: Family) -> RenderContext {
    let macs = [
        "52:54:00:12:34:56",
        "52:54:00:12:34:57",
        "52:54:00:ab:cd:ef",
    ];
    let mut ctx = minimal(family);
    ctx.system = Some(SystemCtx {
        name: "web01".into(),
        hostname: Some("web01.lab.example".into()),
        mac: macs[0].into(),
        macs: macs.iter().map(|m| m.to_string()).collect(),
        ip: Some("10.0.0.21".into()),
        interfaces: macs
            .iter()
            .enumerate()
            .map(|(i, mac)| InterfaceCtx {
                mac: mac.to_string(),
                ip: (i == 0).then(|| "10.0.0.21".into()),
                hostname: (i == 0).then(|| "web01.lab.example".into()),
            })
            .collect(),
        uuid: Some("4c4c4544-0042-3510-8052-b4c04f4e3732".into()),
    });
    ctx.profile = format!("{}-web", ctx.distro.name);
    ctx.vars = Vars::from([
        ("timezone".to_string(), "Europe/Paris".into()),
        ("keyboard".to_string(), "fr".into()),
        ("user".to_string(), "admin".into()),
        ("disk".to_string(), "/dev/vda".into()),
        ("packages".to_string(), vec!["tmux", "curl"].into()),
        ("allow_unauthenticated".to_string(), true.into()),
    ]);
    ctx.secrets = Vars::from([
        ("root_password_hash".to_string(), ROOT_HASH.into()),
        ("user_password_hash".to_string(), USER_HASH.into()),
        ("ssh_authorized_keys".to_string(), vec![KEY_A, KEY_B].into()),
    ]);
    ctx.urls.answer_file = ctx.urls.answer_file.replace("/m1", "/web01");
    ctx.urls.callback = Some(format!("http://10.0.0.1:8080/callback/web01?token={TOKEN}"));
    ctx.urls.nocloud = format!("http://10.0.0.1:8080/answer/system/web01/token/{TOKEN}/");
    ctx.urls.kernel = format!("http://10.0.0.1/boot/{}", ctx.distro.kernel);
    ctx.urls.initrds = vec![format!("http://10.0.0.1/boot/{}", ctx.distro.initrds[0])];
    ctx.kernel_args = format!("{} console=ttyS0,115200n8", installer_kernel_args(&ctx));
    ctx
}

/// Another machine of the same profile, with no secrets of its own.
fn other(family: Family) -> RenderContext {
    let mut ctx = full(family);
    let system = ctx.system.as_mut().unwrap();
    system.name = "db02".into();
    system.hostname = Some("db02.lab.example".into());
    ctx.secrets = Vars::new();
    ctx.urls.callback =
        Some("http://10.0.0.1:8080/callback/db02?token=00000000000000000000000000000002".into());
    ctx
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a validator; its status, and stdout + stderr.
fn validate(program: &str, args: &[&str], file: &Path) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn render(name: &str, ctx: &RenderContext) -> String {
    Renderer::builtin()
        .render(name, ctx)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The three machines every answer file is validated for.
fn machines(family: Family) -> [(&'static str, RenderContext); 3] {
    [
        ("minimal", minimal(family)),
        ("unknown", unknown(family)),
        ("full", full(family)),
    ]
}

fn assert_secrets_only_for_their_machine(name: &str, family: Family) {
    let mine = render(name, &full(family));
    let theirs = render(name, &other(family));
    for secret in [ROOT_HASH, KEY_A, TOKEN] {
        assert!(mine.contains(secret), "{name}: {secret} missing:\n{mine}");
        assert!(
            !theirs.contains(secret),
            "{name}: {secret} leaked to db02:\n{theirs}"
        );
    }
    assert!(theirs.contains("db02"), "{name}:\n{theirs}");
}

#[test]
fn kickstart_passes_ksvalidator() {
    require_tool("ksvalidator");
    let dir = TempDir::new("ks");
    for (tag, ctx) in machines(Family::Redhat) {
        let text = render(names::KICKSTART, &ctx);
        let file = write(&dir.0, &format!("{tag}.ks"), &text);
        for version in ["RHEL8", "RHEL9", "RHEL10", "F42"] {
            let (ok, stdout, stderr) = validate("ksvalidator", &["-v", version], &file);
            assert!(
                ok && stderr.trim().is_empty(),
                "{tag} kickstart, {version}:\n{stdout}{stderr}\n--- file:\n{text}"
            );
        }
    }

    let text = render(names::KICKSTART, &full(Family::Redhat));
    for line in [
        "network --device=52:54:00:12:34:56 --bootproto=dhcp --onboot=yes --activate --hostname=web01.lab.example\n",
        "network --device=52:54:00:ab:cd:ef --bootproto=dhcp --onboot=yes\n",
        "url --url=http://10.0.0.1:8080/trees/rocky9/BaseOS/x86_64/os/\n",
        "user --name=admin --groups=wheel --iscrypted --password='$6$awluser$",
        "sshkey --username=admin 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAwlTestKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA admin@lab'\n",
        "echo 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCawlTestKeyB bob'\\''s laptop' >> /home/admin/.ssh/authorized_keys\n",
        "ignoredisk --only-use=/dev/vda\n",
        "\ntmux\ncurl\n%end\n",
        "awl_callback='http://10.0.0.1:8080/callback/web01?token=5f0c2a9d41e87b3c6d1e0f9a8b7c6d5e'\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let text = render(names::KICKSTART, &minimal(Family::Redhat));
    assert!(text.contains("--hostname=m1\n"), "{text}");
    assert!(
        text.contains("rootpw --lock\n") && !text.contains("%post"),
        "{text}"
    );
    assert_secrets_only_for_their_machine(names::KICKSTART, Family::Redhat);
}

/// The debconf lines of a preseed, continuation lines joined.
fn preseed_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                let done = std::mem::take(&mut current);
                if !done.trim().is_empty() && !done.trim_start().starts_with('#') {
                    lines.push(done);
                }
            }
        }
    }
    lines
}

#[test]
fn preseed_passes_debconf_checkonly() {
    require_tool("debconf-set-selections");
    let dir = TempDir::new("preseed");
    for family in [Family::Debian, Family::Ubuntu] {
        for (tag, ctx) in machines(family) {
            let ctx = RenderContext {
                urls: UrlsCtx {
                    tree: tree(Family::Debian).into(),
                    ..ctx.urls.clone()
                },
                ..ctx
            };
            let text = render(names::PRESEED, &ctx);
            let file = write(&dir.0, &format!("{tag}-{family}.cfg"), &text);
            let (ok, stdout, stderr) = validate("debconf-set-selections", &["--checkonly"], &file);
            // --checkonly only warns about an unknown type: any word is a failure.
            assert!(
                ok && stdout.trim().is_empty() && stderr.trim().is_empty(),
                "{tag} preseed:\n{stdout}{stderr}\n--- file:\n{text}"
            );
            for line in preseed_lines(&text) {
                let fields: Vec<&str> = line.splitn(4, char::is_whitespace).collect();
                assert!(fields.len() >= 3, "{line:?}");
                assert!(
                    ["d-i", "tasksel", "popularity-contest"].contains(&fields[0]),
                    "{line:?}"
                );
                assert!(
                    [
                        "string",
                        "boolean",
                        "select",
                        "multiselect",
                        "password",
                        "note"
                    ]
                    .contains(&fields[2]),
                    "{line:?}"
                );
            }
        }
    }

    let text = render(names::PRESEED, &full(Family::Debian));
    let lines = preseed_lines(&text);
    for expected in [
        "d-i netcfg/get_hostname string web01",
        "d-i netcfg/get_domain string lab.example",
        "d-i mirror/http/hostname string deb.lab.example:3142",
        "d-i mirror/http/directory string /debian",
        "d-i time/zone string Europe/Paris",
        "d-i partman-auto/disk string /dev/vda",
        "d-i passwd/username string admin",
        "d-i pkgsel/include string openssh-server tmux curl",
        "d-i debian-installer/allow_unauthenticated boolean true",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected:?} not in:\n{text}"
        );
    }
    let late = lines
        .iter()
        .find(|l| l.starts_with("d-i preseed/late_command string "))
        .expect("a late_command");
    assert!(late.contains("wget -q --post-data= -O /dev/null 'http://10.0.0.1:8080/callback/web01?token=5f0c2a9d41e87b3c6d1e0f9a8b7c6d5e' || true"), "{late}");
    assert!(
        late.contains(">> /target/home/admin/.ssh/authorized_keys"),
        "{late}"
    );

    let text = render(names::PRESEED, &minimal(Family::Debian));
    assert!(
        text.contains("d-i netcfg/get_hostname string m1\n"),
        "{text}"
    );
    assert!(
        text.contains("d-i passwd/root-login boolean false\n"),
        "{text}"
    );
    assert!(
        text.contains("d-i passwd/user-password-crypted password !\n"),
        "{text}"
    );
    assert!(
        !text.contains("allow_unauthenticated"),
        "signed by default:\n{text}"
    );
    assert_secrets_only_for_their_machine(names::PRESEED, Family::Debian);
}

/// `cloud-init schema` says `text` is valid cloud-config.
fn assert_valid_cloud_config(dir: &Path, tag: &str, text: &str) {
    assert!(text.starts_with("#cloud-config\n"), "{text}");
    let file = write(dir, &format!("{tag}-user-data"), text);
    let (ok, stdout, stderr) = validate("cloud-init", &["schema", "--config-file"], &file);
    assert!(
        ok && stdout.contains("Valid cloud-config"),
        "{tag} user-data:\n{stdout}{stderr}\n--- file:\n{text}"
    );
}

#[test]
fn autoinstall_passes_cloud_init_schema() {
    require_tool("cloud-init");
    let dir = TempDir::new("autoinstall");
    for (tag, ctx) in machines(Family::Ubuntu) {
        assert_valid_cloud_config(&dir.0, tag, &render(names::AUTOINSTALL_USER_DATA, &ctx));
        let meta = render(names::AUTOINSTALL_META_DATA, &ctx);
        assert!(
            meta.contains("\ninstance-id: \"awl-") || meta.starts_with("instance-id: \"awl-"),
            "{meta}"
        );
    }

    let text = render(names::AUTOINSTALL_USER_DATA, &full(Family::Ubuntu));
    for line in [
        "autoinstall:\n  version: 1\n",
        "  identity:\n    hostname: \"web01\"\n    username: \"admin\"\n",
        "    password: \"$6$awluser$",
        "  timezone: \"Europe/Paris\"\n",
        "    authorized-keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAwlTestKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA admin@lab\",\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCawlTestKeyB bob's laptop\"]\n",
        "        path: \"/dev/vda\"\n",
        "curl -fsS --retry 3 -d '' -o /dev/null 'http://10.0.0.1:8080/callback/web01?token=5f0c2a9d41e87b3c6d1e0f9a8b7c6d5e'",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let meta = render(names::AUTOINSTALL_META_DATA, &full(Family::Ubuntu));
    assert_eq!(
        meta,
        "instance-id: \"awl-web01\"\nlocal-hostname: \"web01\"\n"
    );
    let text = render(names::AUTOINSTALL_USER_DATA, &minimal(Family::Ubuntu));
    assert!(
        text.contains("  user-data:\n    hostname: \"m1\"\n"),
        "{text}"
    );
    assert!(text.contains("        lock_passwd: true\n"), "{text}");
    assert_secrets_only_for_their_machine(names::AUTOINSTALL_USER_DATA, Family::Ubuntu);
}

#[test]
fn image_user_data_passes_cloud_init_schema() {
    require_tool("cloud-init");
    let dir = TempDir::new("image");
    for (tag, ctx) in machines(Family::Image) {
        assert_valid_cloud_config(&dir.0, tag, &render(names::IMAGE_USER_DATA, &ctx));
    }
    let mut with_files = full(Family::Image);
    with_files.vars.insert(
        "write_files".into(),
        serde_json::json!([{"path": "/etc/motd", "content": "lab machine\n"}]),
    );
    with_files.vars.insert(
        "runcmd".into(),
        serde_json::json!([["touch", "/run/awl-ran"]]),
    );
    let text = render(names::IMAGE_USER_DATA, &with_files);
    assert_valid_cloud_config(&dir.0, "files", &text);
    for line in [
        "hostname: \"web01\"\n",
        "fqdn: \"web01.lab.example\"\n",
        "  - name: \"admin\"\n",
        "  - path: /etc/awl-install\n",
        "  - {\"content\":\"lab machine\\n\",\"path\":\"/etc/motd\"}\n",
        "runcmd: [[\"touch\",\"/run/awl-ran\"]]\n",
        "phone_home:\n  url: \"http://10.0.0.1:8080/callback/web01?token=5f0c2a9d41e87b3c6d1e0f9a8b7c6d5e\"\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let text = render(names::IMAGE_USER_DATA, &minimal(Family::Image));
    assert!(
        !text.contains("phone_home"),
        "no callback, no phone_home:\n{text}"
    );
    let meta = render(names::IMAGE_META_DATA, &full(Family::Image));
    assert_eq!(
        meta,
        "instance-id: \"awl-web01\"\nlocal-hostname: \"web01\"\n"
    );
    assert_secrets_only_for_their_machine(names::IMAGE_USER_DATA, Family::Image);
}

/// The deploy environment's configuration: `key='value'` lines its
/// `sed` reads, with the written/failed callbacks of this install.
#[test]
fn image_deploy_configuration() {
    let text = render(names::IMAGE_DEPLOY, &full(Family::Image));
    let keys: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("{l:?} in:\n{text}"))
        })
        .collect();
    let token = format!("token={TOKEN}");
    assert_eq!(
        keys,
        [
            (
                "image_url",
                "http://10.0.0.1:8080/boot/images/debian-12.img"
            ),
            ("image_sha256", IMAGE_SHA256),
            ("image_size", "504365056"),
            ("disk", "/dev/vda"),
            (
                "seed_url",
                &*format!("http://10.0.0.1:8080/answer/system/web01/token/{TOKEN}/")
            ),
            (
                "written_url",
                &*format!("'http://10.0.0.1:8080/callback/web01?{token}&status=written'")
            ),
            (
                "failed_url",
                &*format!("'http://10.0.0.1:8080/callback/web01?{token}&status=failed'")
            ),
        ]
    );
    let unknown = render(names::IMAGE_DEPLOY, &unknown(Family::Image));
    assert!(!unknown.contains("written_url"), "{unknown}");
    assert!(unknown.contains("image_url="), "{unknown}");
    assert!(
        installer_kernel_args(&full(Family::Image)).contains(" quiet"),
        "quiet: no token on the console"
    );
    assert!(
        installer_kernel_args(&full(Family::Image))
            .starts_with("awl.deploy=http://10.0.0.1:8080/answer/web01"),
        "{}",
        installer_kernel_args(&full(Family::Image))
    );
}

#[test]
fn grub_configs_pass_grub_script_check() {
    require_tool("grub-script-check");
    let dir = TempDir::new("grub");
    let renderer = Renderer::builtin();
    let mut files: Vec<(String, String)> = Vec::new();
    for family in [Family::Redhat, Family::Debian, Family::Ubuntu] {
        for (tag, ctx) in machines(family) {
            let name = format!("{tag}-{family}");
            files.push((format!("{name}.cfg"), renderer.grub_config(&ctx).unwrap()));
            files.push((
                format!("{name}-local.cfg"),
                renderer.grub_local(Some(&ctx)).unwrap(),
            ));
        }
    }
    let menu = MenuContext {
        title: "awl: pick a profile".into(),
        timeout_seconds: 30,
        server: full(Family::Redhat).server,
        entries: [Family::Redhat, Family::Debian, Family::Ubuntu]
            .map(|f| MenuEntry::from(&unknown(f)))
            .to_vec(),
    };
    files.push(("menu.cfg".into(), renderer.grub_menu(&menu).unwrap()));
    files.push(("local.cfg".into(), renderer.grub_local(None).unwrap()));
    for (name, text) in &files {
        let file = write(&dir.0, name, text);
        let (ok, stdout, stderr) = validate("grub-script-check", &[], &file);
        assert!(ok, "{name}:\n{stdout}{stderr}\n--- file:\n{text}");
    }

    // The Ubuntu command line's ';' is quoted, or GRUB would end the
    // command there.
    let text = renderer.grub_config(&full(Family::Ubuntu)).unwrap();
    assert!(
        text.contains(" autoinstall 'ds=nocloud-net;s=http://10.0.0.1:8080/answer/web01/' console=ttyS0,115200n8\n"),
        "{text}"
    );
    assert!(text.contains("    linux (http,10.0.0.1)/boot/distros/ubuntu2404/vmlinuz ip=dhcp url=http://10.0.0.1:8080/isos/ubuntu-24.04-live-server-amd64.iso cloud-config-url=/dev/null autoinstall"), "{text}");
    let text = renderer.grub_config(&minimal(Family::Debian)).unwrap();
    assert!(text.contains("    linux (tftp,10.0.0.1)/distros/debian12/vmlinuz auto=true priority=critical url=http://10.0.0.1:8080/answer/m1 interface=auto hostname=m1 domain=\n"), "{text}");
}
