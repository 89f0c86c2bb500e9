//! The renderer's limits, error reports, lookup rules and built-ins.

use std::time::{Duration, Instant};

use super::*;

fn sample() -> RenderContext {
    RenderContext::sample()
}

/// A second machine, with no secrets of its own.
fn other_machine() -> RenderContext {
    let mut ctx = sample();
    let system = ctx.system.as_mut().unwrap();
    system.name = "db02".into();
    system.hostname = Some("db02.lab.example".into());
    ctx.secrets.clear();
    ctx.urls.callback =
        Some("http://10.0.0.1:8080/callback/db02?token=feedfacefeedfacefeedfacefeedface".into());
    ctx
}

fn source_error(source: &str) -> RenderError {
    Renderer::builtin()
        .check_template(
            TemplateRef::Source {
                name: "user.ks",
                source,
            },
            &sample(),
        )
        .unwrap_err()
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("awl-render-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn fuel_stops_a_billion_iterations_quickly() {
    let start = Instant::now();
    let err = source_error("{% for i in range(1000000000) %}x{% endfor %}");
    assert_eq!(err.template, "user.ks");
    assert_eq!(err.line, Some(1));
    assert!(err.message.contains("range"), "{err}");
    // Nested loops stay under range()'s own cap: fuel stops them.
    let err = source_error(
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
    );
    assert_eq!(err.kind, RenderErrorKind::Limit, "{err}");
    assert!(err.message.contains("fuel"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn fuel_bounds_memory_too() {
    let err =
        source_error("{% set s = 'x' * 100000 %}{% for i in range(100000) %}{{ s }}{% endfor %}");
    assert_eq!(err.kind, RenderErrorKind::Limit, "{err}");
    let err = source_error("{{ 'x' * 1000000000000 }}");
    assert_ne!(err.kind, RenderErrorKind::Syntax, "{err}");
}

#[test]
fn a_template_that_includes_itself_fails_fast() {
    let dir = TempDir::new("recursion");
    dir.write("loop.ks", "a\n{% include \"loop.ks\" %}\n");
    let renderer = Renderer::new(RenderConfig {
        templates_dir: Some(dir.0.clone()),
        ..RenderConfig::default()
    });
    let start = Instant::now();
    let err = renderer.render("loop.ks", &sample()).unwrap_err();
    assert_eq!(err.kind, RenderErrorKind::Limit, "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn syntax_error_names_template_and_line() {
    let err = source_error("text\nlang en_US\n{% if system %}\nnetwork\n");
    assert_eq!(err.kind, RenderErrorKind::Syntax);
    assert_eq!(err.line, Some(4), "{err}");
    assert!(
        err.to_string().starts_with("user.ks:4: syntax error"),
        "{err}"
    );

    let err = source_error("a\n{{ system.name \n");
    assert!(
        err.to_string().starts_with("user.ks:2: syntax error"),
        "{err}"
    );
}

#[test]
fn undefined_names_fail_but_may_be_tested_or_defaulted() {
    let err = source_error("line 1\nhostname {{ sytem.hostname }}\n");
    assert_eq!(err.line, Some(2), "{err}");
    assert_eq!(
        err.to_string(),
        "user.ks:2: undefined value: `sytem` is undefined"
    );
    let err = source_error("{{ vars.ntp_server }}");
    assert!(err.message.contains("undefined"), "{err}");
    let err = source_error("{% for s in vars.ntp_servers %}{{ s }}{% endfor %}");
    assert!(err.message.contains("undefined"), "{err}");

    let renderer = Renderer::builtin();
    let out = renderer
        .render_source(
            "ok",
            "{% if vars.ntp %}ntp{% endif %}{{ vars.tz | default('UTC') }}{% if vars.ntp is defined %}x{% endif %}",
            &sample(),
        )
        .unwrap();
    assert_eq!(out, "UTC");
}

#[test]
fn errors_in_a_snippet_name_the_snippet() {
    let snippets = TempDir::new("snippets");
    snippets.write("bad", "ok\n{{ nothing_here }}\n");
    let renderer = Renderer::new(RenderConfig {
        snippets_dir: Some(snippets.0.clone()),
        ..RenderConfig::default()
    });
    let err = renderer
        .render_source(
            "main.ks",
            "x\ny\n{% include \"snippets/bad\" %}\n",
            &sample(),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "snippets/bad:2: undefined value: `nothing_here` is undefined (included from main.ks:3)",
        "{err:?}"
    );

    let err = renderer
        .render_source(
            "main.ks",
            "x\n{% include \"snippets/missing\" %}\n",
            &sample(),
        )
        .unwrap_err();
    assert_eq!(err.kind, RenderErrorKind::NotFound);
    assert!(
        err.to_string().starts_with("main.ks:2: template not found"),
        "{err}"
    );
}

#[test]
fn missing_template_is_not_found() {
    let err = Renderer::builtin().render("nope", &sample()).unwrap_err();
    assert_eq!(err.kind, RenderErrorKind::NotFound);
    assert!(
        err.to_string().starts_with("nope: template not found"),
        "{err}"
    );
}

#[test]
fn user_templates_override_add_and_are_live() {
    let dir = TempDir::new("user");
    let renderer = Renderer::new(RenderConfig {
        templates_dir: Some(dir.0.clone()),
        ..RenderConfig::default()
    });
    let builtin = renderer.render(names::KICKSTART, &sample()).unwrap();
    assert!(builtin.contains("autopart"));

    dir.write("kickstart", "mine {{ profile }}\n");
    assert_eq!(
        renderer.render(names::KICKSTART, &sample()).unwrap(),
        "mine rocky9-web\n"
    );
    // Same size, new text: the modification time tells.
    std::thread::sleep(Duration::from_millis(20));
    dir.write("kickstart", "MINE {{ profile }}\n");
    assert_eq!(
        renderer.render(names::KICKSTART, &sample()).unwrap(),
        "MINE rocky9-web\n"
    );
    std::fs::remove_file(dir.0.join("kickstart")).unwrap();
    assert_eq!(
        renderer.render(names::KICKSTART, &sample()).unwrap(),
        builtin
    );

    dir.write("site/web.ks", "{% include \"snippets/callback.sh\" %}");
    let out = renderer.render("site/web.ks", &sample()).unwrap();
    assert!(out.contains("curl -fsS"), "{out}");
    assert!(renderer
        .template_names()
        .contains(&"site/web.ks".to_string()));
    assert!(renderer.check_all(&sample()).is_empty());

    dir.write("broken", "{% if %}");
    let errors = renderer.check_all(&sample());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().starts_with("broken:1: syntax error"),
        "{}",
        errors[0]
    );
}

#[test]
fn names_outside_the_folders_are_never_read() {
    let dir = TempDir::new("confined");
    dir.write("inside", "secret file");
    let renderer = Renderer::new(RenderConfig {
        templates_dir: Some(dir.0.join("templates")),
        ..RenderConfig::default()
    });
    std::fs::create_dir_all(dir.0.join("templates")).unwrap();
    for name in [
        "../inside",
        "/etc/passwd",
        "a/../../inside",
        ".hidden",
        "a\\b",
        "",
    ] {
        let err = renderer.render(name, &sample()).unwrap_err();
        assert_eq!(err.kind, RenderErrorKind::NotFound, "{name}: {err}");
    }
}

#[test]
fn secrets_appear_only_in_their_own_machines_output() {
    let renderer = Renderer::builtin();
    let a = sample();
    let b = other_machine();
    let hash = a.secrets["root_password_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let key = a.secrets["ssh_authorized_keys"][0]
        .as_str()
        .unwrap()
        .to_string();
    for name in [
        names::KICKSTART,
        names::PRESEED,
        names::AUTOINSTALL_USER_DATA,
    ] {
        // Interleaved, on one renderer: nothing of a's is kept for b.
        let out_a = renderer.render(name, &a).unwrap();
        let out_b = renderer.render(name, &b).unwrap();
        let out_a2 = renderer.render(name, &a).unwrap();
        assert_eq!(out_a, out_a2, "{name}");
        assert!(out_a.contains(&hash), "{name}:\n{out_a}");
        assert!(out_a.contains(&key), "{name}:\n{out_a}");
        assert!(!out_b.contains(&hash), "{name}:\n{out_b}");
        assert!(!out_b.contains(&key), "{name}:\n{out_b}");
        assert!(
            !out_b.contains("0123456789abcdef0123456789abcdef"),
            "{name}: a's token"
        );
        assert!(
            out_b.contains("feedfacefeedfacefeedfacefeedface"),
            "{name}: b's token"
        );
    }
}

#[test]
fn built_ins_render_against_the_sample_within_a_small_budget() {
    let renderer = Renderer::new(RenderConfig {
        fuel: DEFAULT_FUEL / 100,
        ..RenderConfig::default()
    });
    for name in renderer.template_names() {
        renderer
            .check_template(name.as_str(), &sample())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Unknown machine, no secrets, no vars, no callback.
    let ctx = RenderContext {
        system: None,
        secrets: Vars::new(),
        vars: Vars::new(),
        urls: UrlsCtx {
            callback: None,
            ..sample().urls
        },
        ..sample()
    };
    for name in renderer.template_names() {
        renderer
            .check_template(name.as_str(), &ctx)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn kickstart_has_the_machine() {
    let out = Renderer::builtin()
        .render(names::KICKSTART, &sample())
        .unwrap();
    for line in [
        "network --device=52:54:00:12:34:56 --bootproto=dhcp --onboot=yes --activate --hostname=web01.lab.example\n",
        "network --device=52:54:00:ab:cd:ef --bootproto=dhcp --onboot=yes\n",
        "url --url=http://10.0.0.1:8080/trees/rocky9/\n",
        "timezone Europe/Paris --utc\n",
        "vim-enhanced\n",
        "awl_callback='http://10.0.0.1:8080/callback/web01?token=0123456789abcdef0123456789abcdef'\n",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
    let locked = RenderContext {
        secrets: Vars::new(),
        ..sample()
    };
    let out = Renderer::builtin()
        .render(names::KICKSTART, &locked)
        .unwrap();
    assert!(out.contains("rootpw --lock\n"), "{out}");
    assert!(!out.contains("sshkey"), "{out}");
}

#[test]
fn preseed_splits_the_tree_url_and_keeps_one_line_per_answer() {
    let mut ctx = sample();
    ctx.distro.family = Family::Debian;
    ctx.urls.tree = "http://deb.lab.example:3142/debian".into();
    ctx.system.as_mut().unwrap().hostname =
        Some("web01.lab.example\nd-i partman/confirm boolean false".into());
    let out = Renderer::builtin().render(names::PRESEED, &ctx).unwrap();
    assert!(
        out.contains("d-i mirror/http/hostname string deb.lab.example:3142\n"),
        "{out}"
    );
    assert!(
        out.contains("d-i mirror/http/directory string /debian\n"),
        "{out}"
    );
    assert!(
        out.contains("d-i netcfg/get_hostname string web01\n"),
        "{out}"
    );
    assert!(
        !out.contains("\nd-i partman/confirm boolean false"),
        "{out}"
    );
}

#[test]
fn grub_config_boots_over_http_on_port_80_else_tftp() {
    let renderer = Renderer::builtin();
    let mut ctx = sample();
    let out = renderer.grub_config(&ctx).unwrap();
    assert!(
        out.contains("    linux (tftp,10.0.0.1)/distros/rocky9/vmlinuz inst.ks=http://10.0.0.1:8080/answer/web01 console=ttyS0,115200n8\n"),
        "{out}"
    );
    assert!(
        out.contains("    initrd (tftp,10.0.0.1)/distros/rocky9/initrd.img\n"),
        "{out}"
    );

    ctx.urls.kernel = "http://10.0.0.1/boot/vmlinuz".into();
    ctx.urls.initrds = vec![
        "http://10.0.0.1/boot/initrd.img".into(),
        "http://10.0.0.1/boot/extra.img".into(),
    ];
    ctx.kernel_args = installer_kernel_args(&RenderContext {
        distro: DistroCtx {
            family: Family::Ubuntu,
            ..ctx.distro.clone()
        },
        ..ctx.clone()
    });
    let out = renderer.grub_config(&ctx).unwrap();
    assert!(
        out.contains("    linux (http,10.0.0.1)/boot/vmlinuz ip=dhcp "),
        "{out}"
    );
    assert!(
        out.contains(" autoinstall 'ds=nocloud-net;s=http://10.0.0.1:8080/answer/web01'\n"),
        "{out}"
    );
    assert!(
        out.contains("    initrd (http,10.0.0.1)/boot/initrd.img (http,10.0.0.1)/boot/extra.img\n"),
        "{out}"
    );
    ctx.vars.insert("grub_http".into(), "never".into());
    assert!(renderer
        .grub_config(&ctx)
        .unwrap()
        .contains("linux (tftp,10.0.0.1)/"));
}

#[test]
fn local_boot_answers() {
    let renderer = Renderer::builtin();
    let grub = renderer.grub_local(None).unwrap();
    assert!(
        grub.contains("search --no-floppy --file --set=awl_esp $awl_loader"),
        "{grub}"
    );
    assert!(grub.contains("/EFI/BOOT/BOOT${awl_ARCH}.EFI"), "{grub}");
    assert!(grub.contains("chainloader ($awl_esp)$awl_loader"), "{grub}");
    assert!(grub.contains("\n    exit\n"), "{grub}");
    let grub = renderer.grub_local(Some(&sample())).unwrap();
    assert!(
        grub.starts_with("# awl: boot from the local disk (web01)\n"),
        "{grub}"
    );
    let pxe = renderer.pxelinux_local(None).unwrap();
    assert!(
        pxe.contains("DEFAULT local\n") && pxe.contains("    LOCALBOOT 0\n"),
        "{pxe}"
    );
}

#[test]
fn pxelinux_config_loads_over_tftp() {
    let out = Renderer::builtin().pxelinux_config(&sample()).unwrap();
    assert!(out.contains("DEFAULT awl\n"), "{out}");
    assert!(
        out.contains("    KERNEL /distros/rocky9/vmlinuz\n"),
        "{out}"
    );
    assert!(
        out.contains("    APPEND initrd=/distros/rocky9/initrd.img inst.ks=http://10.0.0.1:8080/answer/web01 console=ttyS0,115200n8\n"),
        "{out}"
    );
}

#[test]
fn menus_offer_local_disk_then_each_profile() {
    let renderer = Renderer::builtin();
    let mut second = sample();
    second.profile = "debian12 (minimal)".into();
    let menu = MenuContext {
        title: "Pick one".into(),
        timeout_seconds: 0,
        server: sample().server,
        entries: vec![MenuEntry::from(&sample()), MenuEntry::from(&second)],
    };
    let grub = renderer.grub_menu(&menu).unwrap();
    let local = grub.find("menuentry 'Local disk'").unwrap();
    let first = grub.find("menuentry 'Install rocky9-web'").unwrap();
    let other = grub.find("menuentry 'Install debian12 (minimal)'").unwrap();
    assert!(local < first && first < other, "{grub}");
    assert!(grub.contains("set timeout=-1\n"), "{grub}");
    assert!(!grub.contains("token="), "a menu has no callback");

    let pxe = renderer.pxelinux_menu(&menu).unwrap();
    assert!(
        pxe.contains("UI menu.c32\n") && pxe.contains("TIMEOUT 0\n"),
        "{pxe}"
    );
    assert!(
        pxe.contains("LABEL awl2\n    MENU LABEL Install debian12 (minimal)\n"),
        "{pxe}"
    );
}

#[test]
fn installer_arguments_per_family() {
    let mut ctx = sample();
    assert_eq!(
        installer_kernel_args(&ctx),
        "inst.ks=http://10.0.0.1:8080/answer/web01 inst.repo=http://10.0.0.1:8080/trees/rocky9/"
    );
    ctx.distro.family = Family::Debian;
    assert_eq!(
        installer_kernel_args(&ctx),
        "auto=true priority=critical url=http://10.0.0.1:8080/answer/web01 interface=auto hostname=web01 domain=lab.example"
    );
    // With awl receiving syslog: the installers are told where.
    ctx.server.syslog = "10.0.0.1:514".into();
    assert!(installer_kernel_args(&ctx).ends_with(" log_host=10.0.0.1 log_port=514"));
    ctx.distro.family = Family::Redhat;
    assert!(installer_kernel_args(&ctx).ends_with(" inst.syslog=10.0.0.1:514"));
    ctx.server.syslog.clear();
    ctx.distro.family = Family::Generic;
    assert_eq!(installer_kernel_args(&ctx), "");
    assert_eq!(
        Family::Ubuntu.default_template(),
        Some(names::AUTOINSTALL_USER_DATA)
    );
    assert_eq!("suse".parse::<Family>(), Ok(Family::Suse));
    assert!("windows".parse::<Family>().is_err());
}

#[test]
fn context_round_trips_through_json() {
    let ctx = sample();
    let json = serde_json::to_string(&ctx).unwrap();
    assert!(json.contains("\"family\":\"redhat\""), "{json}");
    let back: RenderContext = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ctx);
}

#[test]
fn kickstart_reports_done_in_post_and_failed_in_onerror() {
    let text = Renderer::builtin()
        .render(names::KICKSTART, &sample())
        .unwrap();
    let url = "http://10.0.0.1:8080/callback/web01?token=0123456789abcdef0123456789abcdef";
    let post = text.find("%post --nochroot").unwrap();
    let onerror = text.find("%onerror").unwrap();
    let done = text.find(&format!("awl_callback='{url}'")).unwrap();
    let failed = text
        .find(&format!("awl_failed_callback='{url}&status=failed'"))
        .unwrap();
    assert!(post < done && done < onerror && onerror < failed, "{text}");
    assert!(
        text.contains("-o /dev/null \"$awl_failed_callback\""),
        "{text}"
    );
}
