//! The JSON API (docs/api.md) on a running `awl serve`, with curl and
//! busybox udhcpc in network namespaces this test creates:
//!
//! * without the token every write is 401 (`WWW-Authenticate: Bearer`,
//!   `application/problem+json`) and the inventory file is not touched;
//!   a wrong token is the same; reads are open, secrets hidden;
//! * with the token, a system added over the API changes the very next
//!   DHCP answer to its MAC (udhcpc gets the system's fixed address where
//!   it had a pool address just before); bad input gets 400/409/415/422
//!   naming the field; a removed system's MAC is back in the pool;
//! * the token file is made at first start, mode 0600;
//! * `/metrics` parses as Prometheus text and counts what happened.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use awl_tests::{require_tool, serve_dhcp, NetnsPair, TempDir};
use serde_json::{json, Value};

/// One curl exchange inside `netns`: status, header block, body.
fn call(
    netns: &str,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, String, String) {
    let mut c = Command::new("ip");
    c.args([
        "netns", "exec", netns, "timeout", "30", "curl", "-sS", "-D", "-",
    ]);
    c.args(["-X", method, url]);
    if let Some(token) = token {
        c.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some((content_type, data)) = body {
        c.args([
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            data,
        ]);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "curl {method} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The address busybox udhcpc in `net`'s client namespace gets, with the
/// client's interface set to `mac`.
fn lease_for(net: &NetnsPair, dir: &TempDir, mac: &str) -> String {
    let ns = &net.client;
    for args in [
        vec!["link", "set", "dev", &net.client_if, "down"],
        vec!["link", "set", "dev", &net.client_if, "address", mac],
        vec!["link", "set", "dev", &net.client_if, "up"],
    ] {
        let st = Command::new("ip")
            .args(["-n", ns])
            .args(&args)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let env = dir.0.join(format!("udhcpc-{}.env", awl_tests::unique()));
    let script = dir.0.join("udhcpc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = bound ] && env > \"$AWL_ENV\"\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "env"])
        .arg(format!("AWL_ENV={}", env.display()))
        .args([
            "timeout", "20", "busybox", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1",
        ])
        // A PXE client's vendor class: a network-booting machine.
        .args(["-V", "PXEClient:Arch:00000:UNDI:002001"])
        .args(["-i", &net.client_if, "-s"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "udhcpc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(env).unwrap();
    env.lines()
        .find_map(|l| l.strip_prefix("ip="))
        .unwrap_or_else(|| panic!("no ip= in {env}"))
        .to_string()
}

#[test]
fn writes_need_the_token_and_a_system_added_changes_the_next_dhcp_answer() {
    require_tool("busybox");
    require_tool("curl");
    let net = NetnsPair::new(95, 0);
    let dir = TempDir::new("api");
    let inv = dir.0.join("inventory.toml");
    let state = dir.0.join("state");
    let server = serve_dhcp(
        &net,
        &dir,
        &[
            "--http-listen",
            "10.77.95.1:8080",
            "--inventory",
            inv.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    server.wait_for_log(std::time::Duration::from_secs(10), &["http: serving"]);
    let ns = net.server.as_str();
    let api = |path: &str| format!("http://10.77.95.1:8080/api/v1{path}");

    // The token: made at first start, readable by its owner only.
    let token_file = state.join("api-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.len() >= 32 && !server.log().contains(&token));

    // Open reads.
    let (status, _, body) = call(ns, "GET", &api("/health"), None, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, _, body) = call(ns, "GET", &api("/openapi.json"), None, None);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(status == 200 && doc["openapi"] == "3.1.0" && doc["paths"]["/systems"].is_object());
    let (_, _, body) = call(ns, "GET", &api("/systems"), None, None);
    assert_eq!(body.trim(), "[]");

    // Before: the MAC gets a pool address.
    let mac = "52:54:00:95:00:07";
    let before = lease_for(&net, &dir, mac);
    let last: u8 = before.rsplit('.').next().unwrap().parse().unwrap();
    assert!((100..=110).contains(&last), "{before}");

    // Every write without the token, or with a wrong one: 401, nothing
    // written.
    let system = json!({
        "name": "web1",
        "netboot": "never",
        "interface": [{ "mac": mac, "ip": "10.77.95.57", "hostname": "web1" }],
        "secrets": { "root_password_hash": "$6$salt$hash" },
    })
    .to_string();
    let body = Some(("application/json", system.as_str()));
    let untouched = std::fs::read(&inv).ok();
    let wrong = "0".repeat(64);
    for token in [None, Some(wrong.as_str())] {
        for (method, path) in [
            ("POST", "/systems"),
            ("PUT", "/systems/web1"),
            ("PATCH", "/systems/web1"),
            ("DELETE", "/systems/web1"),
            ("POST", "/systems/web1/reinstall"),
            ("POST", "/distros"),
            ("PUT", "/profiles/p"),
        ] {
            let (status, head, problem) = call(ns, method, &api(path), token, body);
            assert_eq!(status, 401, "{method} {path}: {problem}");
            assert!(head.contains("www-authenticate: bearer"), "{head}");
            assert!(
                head.contains("content-type: application/problem+json"),
                "{head}"
            );
            let problem: Value = serde_json::from_str(&problem).unwrap();
            assert_eq!(problem["status"], 401);
        }
    }
    assert_eq!(std::fs::read(&inv).ok(), untouched);

    // With it: added, and the very next DHCP answer is the system's.
    let (status, head, created) = call(ns, "POST", &api("/systems"), Some(&token), body);
    assert_eq!(status, 201, "{created}");
    assert!(head.contains("location: /api/v1/systems/web1"), "{head}");
    assert_eq!(
        lease_for(&net, &dir, mac),
        "10.77.95.57",
        "{}",
        server.log()
    );

    // Secrets: hidden from open reads, shown with the token when asked.
    let (_, _, shown) = call(ns, "GET", &api("/systems/web1"), None, None);
    assert!(
        !shown.contains("$6$salt$hash") && shown.contains("hidden"),
        "{shown}"
    );
    let (status, _, _) = call(
        ns,
        "GET",
        &api("/systems/web1?show_secrets=true"),
        None,
        None,
    );
    assert_eq!(status, 401);
    let (_, _, shown) = call(
        ns,
        "GET",
        &api("/systems/web1?show_secrets=true"),
        Some(&token),
        None,
    );
    assert!(shown.contains("$6$salt$hash"), "{shown}");
    // What GET returned, sent back (secrets hidden), keeps the secrets.
    let (_, _, hidden) = call(ns, "GET", &api("/systems/web1"), None, None);
    let (status, _, _) = call(
        ns,
        "PUT",
        &api("/systems/web1"),
        Some(&token),
        Some(("application/json", &hidden)),
    );
    assert_eq!(status, 200);
    assert!(std::fs::read_to_string(&inv)
        .unwrap()
        .contains("$6$salt$hash"));

    // Bad input: named, refused, nothing changed.
    let kept = std::fs::read(&inv).unwrap();
    let taken_mac = format!(r#"{{"name":"web3","interface":[{{"mac":"{mac}"}}]}}"#);
    for (method, path, content_type, data, want, says) in [
        (
            "POST",
            "/systems",
            "application/json",
            r#"{"name":"web1","interface":[{"mac":"zz"}]}"#,
            409,
            "exists",
        ),
        (
            "POST",
            "/systems",
            "application/json",
            taken_mac.as_str(),
            422,
            "is also system web1's",
        ),
        (
            "POST",
            "/systems",
            "application/json",
            r#"{"name":"web4","profile":"nope","interface":[{"mac":"52:54:00:00:00:44"}]}"#,
            422,
            "system[web4].profile: no profile is named nope",
        ),
        (
            "POST",
            "/systems",
            "application/json",
            system.as_str(),
            409,
            "exists",
        ),
        (
            "POST",
            "/systems",
            "application/json",
            "{not json",
            400,
            "not JSON",
        ),
        (
            "POST",
            "/systems",
            "text/plain",
            "x",
            415,
            "application/json",
        ),
        (
            "POST",
            "/systems",
            "application/json",
            r#"{"name":"web2","interface":[{"mac":"52:54:00"}]}"#,
            422,
            "system[web2].interface[0].mac",
        ),
        (
            "PATCH",
            "/systems/web1",
            "application/merge-patch+json",
            r#"{"profile":"nope"}"#,
            422,
            "nope",
        ),
        (
            "PATCH",
            "/systems/nope",
            "application/json",
            "{}",
            404,
            "no system is named nope",
        ),
    ] {
        let (status, _, problem) = call(
            ns,
            method,
            &api(path),
            Some(&token),
            Some((content_type, data)),
        );
        assert_eq!(status, want, "{method} {path} {data}: {problem}");
        assert!(problem.contains(says), "{problem}");
    }
    assert_eq!(std::fs::read(&inv).unwrap(), kept);

    // A system removed by hand (the digest beside the file still lists
    // it): its name is free, and a taken MAC is named, not "exists".
    let body = |mac: &str| format!(r#"{{"name":"web5","interface":[{{"mac":"{mac}"}}]}}"#);
    let ok = |data: &str| {
        call(
            ns,
            "POST",
            &api("/systems"),
            Some(&token),
            Some(("application/json", data)),
        )
    };
    assert_eq!(ok(&body("52:54:00:95:00:55")).0, 201);
    std::fs::write(&inv, &kept).unwrap();
    let (status, _, problem) = ok(&body(mac));
    assert_eq!(status, 422, "{problem}");
    assert!(problem.contains("is also system web1's"), "{problem}");
    assert_eq!(std::fs::read(&inv).unwrap(), kept);
    assert_eq!(ok(&body("52:54:00:95:00:56")).0, 201);
    // Two systems now. Found by a filter (the MAC percent-encoded, as
    // curl --data-urlencode sends it); a typo, an empty value or a value
    // that does not parse is a 400 that names it, never every system.
    let names = |query: &str| -> (u16, String) {
        let (status, _, body) = call(ns, "GET", &api(&format!("/systems?{query}")), None, None);
        if status != 200 {
            return (status, body);
        }
        let found: Value = serde_json::from_str(&body).unwrap();
        let found = found.as_array().unwrap().iter();
        let names: Vec<&str> = found.map(|s| s["name"].as_str().unwrap()).collect();
        (status, names.join(","))
    };
    assert_eq!(names(""), (200, "web1,web5".into()));
    assert_eq!(
        names("mac=52%3A54%3A00%3A95%3A00%3A07&profile="),
        (200, "web1".into())
    );
    assert_eq!(names("mac=52-54-00-95-00-56"), (200, "web5".into()));
    assert_eq!(names("ip=10.9.9.9"), (200, String::new()));
    for (query, says) in [
        ("uuid=nope", "uuid=nope"),
        ("macc=1", "macc: not a filter"),
        ("mac=", "mac=: empty"),
    ] {
        let (status, problem) = names(query);
        assert!(
            status == 400 && problem.contains(says),
            "{query}: {status} {problem}"
        );
    }
    let (status, _, problem) = ok(&body("52:54:00:95:00:57"));
    assert_eq!(status, 409, "{problem}");
    let (_, _, gone) = call(ns, "DELETE", &api("/systems/web5"), Some(&token), None);
    assert_eq!(std::fs::read(&inv).unwrap(), kept, "{gone}");

    // A merge patch changes one field.
    let (status, _, patched) = call(
        ns,
        "PATCH",
        &api("/systems/web1"),
        Some(&token),
        Some(("application/merge-patch+json", r#"{"vars":{"rack":"r1"}}"#)),
    );
    assert_eq!(status, 200, "{patched}");
    let patched: Value = serde_json::from_str(&patched).unwrap();
    assert_eq!(patched["vars"]["rack"], "r1");
    assert_eq!(patched["netboot"], "never");
    assert_eq!(patched["interface"][0]["ip"], "10.77.95.57");

    // Status and leases.
    let (_, _, rows) = call(ns, "GET", &api("/status"), None, None);
    let rows: Value = serde_json::from_str(&rows).unwrap();
    assert_eq!(rows[0]["system"], "web1");
    assert_eq!(rows[0]["macs"][0], mac);
    let (_, _, leases) = call(ns, "GET", &api("/leases"), None, None);
    let leases: Value = serde_json::from_str(&leases).unwrap();
    assert!(
        leases
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["ip"] == "10.77.95.57" && l["system"] == "web1"),
        "{leases}"
    );

    // Removed: the MAC is an unknown machine again.
    let (status, _, _) = call(ns, "DELETE", &api("/systems/web1"), Some(&token), None);
    assert_eq!(status, 204);
    let (status, _, _) = call(ns, "GET", &api("/systems/web1"), None, None);
    assert_eq!(status, 404);
    let after = lease_for(&net, &dir, mac);
    assert_ne!(after, "10.77.95.57");
    // ...and, network-booting, one to add again (docs/discovery.md).
    let listed = || {
        let (_, _, rows) = call(ns, "GET", &api("/discovered"), None, None);
        serde_json::from_str::<Value>(&rows).unwrap()
    };
    assert!(
        awl_tests::try_wait_until(std::time::Duration::from_secs(10), || listed()
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["mac"] == mac && r["address"] == after.as_str())),
        "{}",
        listed()
    );

    // The metrics counted it all.
    let (status, head, metrics) = call(ns, "GET", "http://10.77.95.1:8080/metrics", None, None);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(
        value("awl_dhcp_answers_total{type=\"ack\"}") >= 3.0,
        "{metrics}"
    );
    assert!(
        value("awl_http_requests_total{code=\"4xx\"}") >= 14.0,
        "{metrics}"
    );
    assert_eq!(value("awl_inventory_systems"), 0.0);
    assert_eq!(value("awl_discovered_machines"), 1.0);
    assert!(value("awl_dhcp_leases_in_use") >= 1.0);
    // Every sample line is NAME{LABELS} VALUE, under its TYPE line.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let family = name.split('{').next().unwrap();
        let base = family
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            metrics.contains(&format!("# TYPE {family} "))
                || metrics.contains(&format!("# TYPE {base} ")),
            "{line}"
        );
    }
}
