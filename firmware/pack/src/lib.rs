/*! Build-time packer for awl's firmware. A board crate's `build.rs` calls
[`generate`]: it reads the appliance TOML (path from `AWL_APPLIANCE`,
default `firmware/appliance.toml`), validates it (every error names the
file, the line and the field), checks that the boot files fit the board's
flash beside the code, and writes `$OUT_DIR/appliance.rs`, which the board
includes:

```text
pub static APPLIANCE: awl_firmware::packed::Packed = ...;   settings + files
```

Boot files are embedded with `include_bytes!`, so they go to flash as they
are, and cargo rebuilds when one changes.
*/

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

#[path = "../../app/src/capacity.rs"]
#[allow(dead_code, unreachable_pub)]
pub mod capacity;

/// A board, as far as packing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Board {
    /// Its name in messages.
    pub name: &'static str,
    /// Flash size in bytes.
    pub flash_bytes: u64,
}

/// The environment variable that names the appliance TOML.
pub const ENV: &str = "AWL_APPLIANCE";

/// Reads the appliance TOML named by `AWL_APPLIANCE` (relative paths are
/// taken from the `firmware/` folder; default `firmware/appliance.toml`),
/// writes `$OUT_DIR/appliance.rs`, and prints cargo's rerun lines. On error,
/// prints the error and exits the build script with status 1.
pub fn generate(board: Board) {
    if let Err(e) = try_generate(board) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn try_generate(board: Board) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed={ENV}");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let firmware = Path::new(&manifest)
        .parent()
        .ok_or("CARGO_MANIFEST_DIR has no parent")?
        .to_path_buf();
    let toml_path = match std::env::var_os(ENV) {
        Some(p) if !p.is_empty() => firmware.join(PathBuf::from(p)),
        _ => firmware.join("appliance.toml"),
    };
    println!("cargo:rerun-if-changed={}", toml_path.display());
    let text = std::fs::read_to_string(&toml_path)
        .map_err(|e| format!("{}: cannot read: {e} (set {ENV})", toml_path.display()))?;
    let appliance = parse(&toml_path, &text, board)?;
    for file in &appliance.files {
        println!("cargo:rerun-if-changed={}", file.path.display());
    }
    for warning in &appliance.warnings {
        println!("cargo:warning={warning}");
    }
    let out = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
    let dest = Path::new(&out).join("appliance.rs");
    std::fs::write(&dest, render(&appliance, &toml_path))
        .map_err(|e| format!("{}: cannot write: {e}", dest.display()))?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    network: Spanned<RawNetwork>,
    #[serde(default)]
    dhcp: Option<Spanned<RawDhcp>>,
    #[serde(default)]
    boot: Option<Spanned<RawBoot>>,
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    mac: Spanned<String>,
    address: Spanned<String>,
    netmask: Spanned<String>,
    #[serde(default)]
    gateway: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDhcp {
    mode: Spanned<String>,
    #[serde(default)]
    pool_first: Option<Spanned<String>>,
    #[serde(default)]
    pool_last: Option<Spanned<String>>,
    #[serde(default)]
    routers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    dns: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    domain: Option<Spanned<String>>,
    #[serde(default)]
    lease_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBoot {
    bios: Option<Spanned<String>>,
    uefi_x64: Option<Spanned<String>>,
    uefi_ia32: Option<Spanned<String>>,
    uefi_arm64: Option<Spanned<String>>,
    ipxe_script: Option<Spanned<String>>,
    http_boot: Option<Spanned<String>>,
    mirror: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    path: Spanned<String>,
    #[serde(default)]
    render: Option<Spanned<bool>>,
}

/// A validated appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appliance {
    /// Ethernet address.
    pub mac: [u8; 6],
    /// Server address.
    pub ip: Ipv4Addr,
    /// Prefix length of the subnet.
    pub prefix_len: u8,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// `Full`, `Proxy` or `Off`.
    pub mode: &'static str,
    /// Pool.
    pub pool: (Ipv4Addr, Ipv4Addr),
    /// Routers (option 3).
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// Domain (option 15).
    pub domain: String,
    /// Lease time, seconds.
    pub lease_secs: u32,
    /// Boot names and URLs: bios, uefi_x64, uefi_ia32, uefi_arm64,
    /// ipxe_script, http_boot, mirror.
    pub boot: [String; 7],
    /// Files to pack.
    pub files: Vec<PackedFile>,
    /// Things worth saying that do not stop the build.
    pub warnings: Vec<String>,
}

/// One file to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// The name clients ask for.
    pub name: String,
    /// Where it is read from.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Served over HTTP as a template rendered per client.
    pub render: bool,
}

/// Where an error is: `file:line: [section] field: message`.
struct At<'a> {
    file: &'a Path,
    text: &'a str,
}

impl At<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text
            .get(..end)
            .map_or(1, |s| s.bytes().filter(|&b| b == b'\n').count() + 1)
    }

    fn err(&self, span: &Range<usize>, field: &str, message: impl std::fmt::Display) -> String {
        format!(
            "{}:{}: {field}: {message}",
            self.file.display(),
            self.line(span)
        )
    }

    fn ip(&self, value: &Spanned<String>, field: &str) -> Result<Ipv4Addr, String> {
        value.get_ref().parse().map_err(|_| {
            self.err(
                &value.span(),
                field,
                format!("\"{}\" is not an IPv4 address", value.get_ref()),
            )
        })
    }
}

/// Parses and validates an appliance TOML for `board`.
pub fn parse(file: &Path, text: &str, board: Board) -> Result<Appliance, String> {
    let at = At { file, text };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| at.line(&s));
        format!("{}:{line}: {}", file.display(), e.message())
    })?;
    let network = raw.network.get_ref();
    let mut warnings = Vec::new();

    let mac = parse_mac(network.mac.get_ref()).ok_or_else(|| {
        at.err(
            &network.mac.span(),
            "[network] mac",
            format!(
                "\"{}\" is not a MAC address (aa:bb:cc:dd:ee:ff)",
                network.mac.get_ref()
            ),
        )
    })?;
    if mac[0] & 1 != 0 {
        return Err(at.err(
            &network.mac.span(),
            "[network] mac",
            "a multicast address cannot be the board's",
        ));
    }
    let ip = at.ip(&network.address, "[network] address")?;
    let netmask = at.ip(&network.netmask, "[network] netmask")?;
    let mask = u32::from(netmask);
    if mask.leading_ones() + mask.trailing_zeros() != 32 || mask == 0 {
        return Err(at.err(
            &network.netmask.span(),
            "[network] netmask",
            format!("{netmask} is not a contiguous netmask"),
        ));
    }
    let prefix_len = mask.leading_ones() as u8;
    let in_subnet = |a: Ipv4Addr| u32::from(a) & mask == u32::from(ip) & mask;
    let gateway = match &network.gateway {
        Some(g) => {
            let gw = at.ip(g, "[network] gateway")?;
            if !in_subnet(gw) {
                return Err(at.err(
                    &g.span(),
                    "[network] gateway",
                    format!("{gw} is not in {ip}/{prefix_len}"),
                ));
            }
            Some(gw)
        }
        None => None,
    };

    let (mode, pool, routers, dns, domain, lease_secs) = match &raw.dhcp {
        None => ("Off", (ip, ip), Vec::new(), Vec::new(), String::new(), 3600),
        Some(dhcp) => {
            let d = dhcp.get_ref();
            let mode = match d.mode.get_ref().as_str() {
                "full" => "Full",
                "proxy" => "Proxy",
                "off" => "Off",
                other => {
                    return Err(at.err(
                        &d.mode.span(),
                        "[dhcp] mode",
                        format!("\"{other}\": use \"full\", \"proxy\" or \"off\""),
                    ))
                }
            };
            let pool = if mode == "Full" {
                let first = d.pool_first.as_ref().ok_or_else(|| {
                    at.err(
                        &dhcp.span(),
                        "[dhcp] pool_first",
                        "missing (mode = \"full\" hands out addresses)",
                    )
                })?;
                let last = d.pool_last.as_ref().ok_or_else(|| {
                    at.err(
                        &dhcp.span(),
                        "[dhcp] pool_last",
                        "missing (mode = \"full\" hands out addresses)",
                    )
                })?;
                let (a, b) = (
                    at.ip(first, "[dhcp] pool_first")?,
                    at.ip(last, "[dhcp] pool_last")?,
                );
                for (addr, span, field) in [
                    (a, first.span(), "[dhcp] pool_first"),
                    (b, last.span(), "[dhcp] pool_last"),
                ] {
                    if !in_subnet(addr) {
                        return Err(at.err(
                            &span,
                            field,
                            format!("{addr} is not in {ip}/{prefix_len}"),
                        ));
                    }
                }
                if u32::from(b) < u32::from(a) {
                    return Err(at.err(
                        &last.span(),
                        "[dhcp] pool_last",
                        format!("{b} comes before pool_first {a}"),
                    ));
                }
                let size = u64::from(u32::from(b) - u32::from(a)) + 1;
                if size > capacity::MAX_POOL as u64 {
                    return Err(at.err(&last.span(), "[dhcp] pool_last", format!("the pool {a}-{b} has {size} addresses; the firmware is built for at most {} (capacity::MAX_POOL)", capacity::MAX_POOL)));
                }
                if size > capacity::LEASES as u64 {
                    warnings.push(format!("{}: the pool has {size} addresses but the firmware remembers {} clients (capacity::LEASES)", file.display(), capacity::LEASES));
                }
                (a, b)
            } else {
                (ip, ip)
            };
            let list =
                |v: &Option<Spanned<Vec<String>>>, field: &str| -> Result<Vec<Ipv4Addr>, String> {
                    let Some(v) = v else { return Ok(Vec::new()) };
                    v.get_ref()
                        .iter()
                        .map(|s| {
                            s.parse().map_err(|_| {
                                at.err(&v.span(), field, format!("\"{s}\" is not an IPv4 address"))
                            })
                        })
                        .collect()
                };
            let routers = list(&d.routers, "[dhcp] routers")?;
            let dns = list(&d.dns, "[dhcp] dns")?;
            let domain = d
                .domain
                .as_ref()
                .map_or(String::new(), |s| s.get_ref().clone());
            if domain.len() > 255
                || !domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                let span = d.domain.as_ref().map_or(dhcp.span(), Spanned::span);
                return Err(at.err(
                    &span,
                    "[dhcp] domain",
                    "letters, digits, '.' and '-' only, at most 255",
                ));
            }
            let lease_secs = match &d.lease_secs {
                Some(l) => u32::try_from(*l.get_ref())
                    .ok()
                    .filter(|&s| s >= 60)
                    .ok_or_else(|| {
                        at.err(
                            &l.span(),
                            "[dhcp] lease_secs",
                            "between 60 and 4294967295 seconds",
                        )
                    })?,
                None => 3600,
            };
            (mode, pool, routers, dns, domain, lease_secs)
        }
    };

    let boot = raw.boot.as_ref().map(Spanned::get_ref);
    let pick = |f: fn(&RawBoot) -> &Option<Spanned<String>>, default: &str| -> String {
        boot.and_then(|b| f(b).as_ref())
            .map_or(default.to_string(), |s| s.get_ref().clone())
    };
    let boot_values = [
        pick(|b| &b.bios, "undionly.kpxe"),
        pick(|b| &b.uefi_x64, "ipxe.efi"),
        pick(|b| &b.uefi_ia32, "ipxe-i386.efi"),
        pick(|b| &b.uefi_arm64, "ipxe-arm64.efi"),
        pick(|b| &b.ipxe_script, ""),
        pick(|b| &b.http_boot, ""),
        pick(|b| &b.mirror, ""),
    ];
    if let Some(b) = boot {
        for (value, field, schemes) in [
            (
                &b.ipxe_script,
                "[boot] ipxe_script",
                &["http://", "https://", "tftp://"][..],
            ),
            (
                &b.http_boot,
                "[boot] http_boot",
                &["http://", "https://"][..],
            ),
            (&b.mirror, "[boot] mirror", &["http://", "https://"][..]),
        ] {
            if let Some(v) = value {
                let s = v.get_ref();
                if !(s.is_empty() || schemes.iter().any(|p| s.starts_with(p))) {
                    return Err(at.err(
                        &v.span(),
                        field,
                        format!(
                            "\"{s}\" is not a URL starting with {}",
                            schemes.join(" or ")
                        ),
                    ));
                }
            }
        }
        for (value, field) in [
            (&b.bios, "[boot] bios"),
            (&b.uefi_x64, "[boot] uefi_x64"),
            (&b.uefi_ia32, "[boot] uefi_ia32"),
            (&b.uefi_arm64, "[boot] uefi_arm64"),
        ] {
            if let Some(v) = value {
                if v.get_ref().len() > 127 || v.get_ref().bytes().any(|c| !c.is_ascii_graphic()) {
                    return Err(at.err(
                        &v.span(),
                        field,
                        "a boot file name is printable ASCII, at most 127 bytes",
                    ));
                }
            }
        }
    }

    let base = file.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    let mut names = BTreeSet::new();
    if raw.files.len() > capacity::MAX_FILES {
        return Err(format!(
            "{}: {} [[files]]; the firmware takes at most {} (capacity::MAX_FILES)",
            file.display(),
            raw.files.len(),
            capacity::MAX_FILES
        ));
    }
    for entry in &raw.files {
        let f = entry.get_ref();
        let name = f.name.get_ref();
        if !valid_name(name) {
            return Err(at.err(&f.name.span(), "[[files]] name", format!("\"{name}\": a relative path of printable ASCII segments, without '.', '..', '\\' or empty segments (as TFTP clients ask for it)")));
        }
        if !names.insert(name.clone()) {
            return Err(at.err(
                &f.name.span(),
                "[[files]] name",
                format!("\"{name}\" is packed twice"),
            ));
        }
        let path = base.join(f.path.get_ref());
        let meta = std::fs::metadata(&path).map_err(|e| {
            at.err(
                &f.path.span(),
                "[[files]] path",
                format!("{}: {e}", path.display()),
            )
        })?;
        if !meta.is_file() {
            return Err(at.err(
                &f.path.span(),
                "[[files]] path",
                format!("{} is not a regular file", path.display()),
            ));
        }
        let path = path.canonicalize().map_err(|e| {
            at.err(
                &f.path.span(),
                "[[files]] path",
                format!("{}: {e}", path.display()),
            )
        })?;
        let render = f.render.as_ref().is_some_and(|r| *r.get_ref());
        if render {
            let span = f.render.as_ref().map_or(f.path.span(), Spanned::span);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                at.err(
                    &span,
                    "[[files]] render",
                    format!("{}: not UTF-8 text: {e}", path.display()),
                )
            })?;
            if let Err(t) = awl_core::script::check(&text) {
                let names: Vec<&str> = awl_core::script::VARIABLES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                return Err(at.err(
                    &span,
                    "[[files]] render",
                    format!(
                        "{}:{}: {{{{{}}}}}: {} (known: {})",
                        path.display(),
                        t.line,
                        t.name,
                        t.reason,
                        names.join(", ")
                    ),
                ));
            }
        }
        files.push(PackedFile {
            name: name.clone(),
            path,
            size: meta.len(),
            render,
        });
    }
    if mode != "Off" {
        for (i, field) in ["bios", "uefi_x64", "uefi_ia32", "uefi_arm64"]
            .iter()
            .enumerate()
        {
            let name = boot_values.get(i).map_or("", String::as_str);
            let explicit = boot.is_some_and(|b| match i {
                0 => b.bios.is_some(),
                1 => b.uefi_x64.is_some(),
                2 => b.uefi_ia32.is_some(),
                _ => b.uefi_arm64.is_some(),
            });
            if explicit && !name.contains("://") && !names.contains(name) {
                warnings.push(format!("{}: [boot] {field} = \"{name}\" is not among the [[files]]: such clients get \"file not found\"", file.display()));
            }
        }
    }

    let total: u64 = files.iter().map(|f| f.size).sum();
    let needed = total + capacity::CODE_BUDGET;
    if needed > board.flash_bytes {
        let mut list = String::new();
        for f in &files {
            let _ = write!(
                list,
                "\n  {} ({}): {} bytes",
                f.name,
                f.path.display(),
                f.size
            );
        }
        return Err(format!(
            "{}: the boot files do not fit the {}'s flash: {total} bytes of files + {} bytes kept for code = {needed} bytes, over {} bytes by {} bytes:{list}",
            file.display(),
            board.name,
            capacity::CODE_BUDGET,
            board.flash_bytes,
            needed - board.flash_bytes
        ));
    }

    Ok(Appliance {
        mac,
        ip,
        prefix_len,
        gateway,
        mode,
        pool,
        routers,
        dns,
        domain,
        lease_secs,
        boot: boot_values,
        files,
        warnings,
    })
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A name as the core's TFTP path normalisation leaves it: relative,
/// `/`-separated, no empty, `.` or `..` segments, printable ASCII.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn ip_expr(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("::core::net::Ipv4Addr::new({a}, {b}, {c}, {d})")
}

fn ip_list(ips: &[Ipv4Addr]) -> String {
    let items: Vec<String> = ips.iter().map(|&ip| ip_expr(ip)).collect();
    format!("&[{}]", items.join(", "))
}

/// The Rust source of `appliance.rs`.
pub fn render(a: &Appliance, toml_path: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by awl-pack from {} at build time. Do not edit.",
        toml_path.display()
    );
    let _ = writeln!(s, "/// The appliance's settings and boot files, in flash.");
    let _ = writeln!(
        s,
        "pub static APPLIANCE: ::awl_firmware::packed::Packed = ::awl_firmware::packed::Packed {{"
    );
    let _ = writeln!(s, "    mac: {:?},", a.mac);
    let _ = writeln!(s, "    ip: {},", ip_expr(a.ip));
    let _ = writeln!(s, "    prefix_len: {},", a.prefix_len);
    let _ = writeln!(
        s,
        "    gateway: {},",
        a.gateway
            .map_or("None".into(), |g| format!("Some({})", ip_expr(g)))
    );
    let _ = writeln!(s, "    dhcp: ::awl_firmware::packed::DhcpMode::{},", a.mode);
    let _ = writeln!(s, "    pool_first: {},", ip_expr(a.pool.0));
    let _ = writeln!(s, "    pool_last: {},", ip_expr(a.pool.1));
    let _ = writeln!(s, "    routers: {},", ip_list(&a.routers));
    let _ = writeln!(s, "    dns: {},", ip_list(&a.dns));
    let _ = writeln!(s, "    domain: {:?},", a.domain);
    let _ = writeln!(s, "    lease_secs: {},", a.lease_secs);
    for (field, value) in [
        "bios",
        "uefi_x64",
        "uefi_ia32",
        "uefi_arm64",
        "ipxe_script",
        "http_boot",
        "mirror",
    ]
    .iter()
    .zip(&a.boot)
    {
        let _ = writeln!(s, "    {field}: {value:?},");
    }
    let _ = writeln!(s, "    files: &[");
    for f in &a.files {
        let _ = writeln!(
            s,
            "        ::awl_firmware::packed::File {{ name: {:?}, bytes: include_bytes!({:?}), render: {} }},",
            f.name,
            f.path.display().to_string(),
            f.render
        );
    }
    let _ = writeln!(s, "    ],");
    let _ = writeln!(s, "}};");
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BOARD: Board = Board {
        name: "test board",
        flash_bytes: 4 << 20,
    };

    fn check(text: &str) -> Result<Appliance, String> {
        parse(Path::new("/nonexistent/appliance.toml"), text, BOARD)
    }

    const MINIMAL: &str = "[network]\nmac = \"02:00:00:00:00:01\"\naddress = \"10.79.0.2\"\nnetmask = \"255.255.255.0\"\n";

    #[test]
    fn minimal_has_no_dhcp() {
        let a = check(MINIMAL).unwrap();
        assert_eq!(a.mode, "Off");
        assert_eq!(a.prefix_len, 24);
        assert_eq!(a.mac, [2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = format!("{MINIMAL}[dhcp]\nmode = \"full\"\npool_first = \"10.79.0.100\"\npool_last = \"10.80.0.5\"\n");
        let e = check(&text).unwrap_err();
        assert!(
            e.starts_with("/nonexistent/appliance.toml:8: [dhcp] pool_last:"),
            "{e}"
        );
        let e = check(&MINIMAL.replace("255.255.255.0", "255.0.255.0")).unwrap_err();
        assert!(e.contains(":4: [network] netmask"), "{e}");
        let e = check(&format!("{MINIMAL}bogus = 1\n")).unwrap_err();
        assert!(e.contains(":5: unknown field"), "{e}");
        let e = check(&format!("{MINIMAL}[dhcp]\nmode = \"maybe\"\n")).unwrap_err();
        assert!(e.contains(":6: [dhcp] mode"), "{e}");
    }

    #[test]
    fn pool_larger_than_capacity_is_refused() {
        let text = format!("{MINIMAL}[dhcp]\nmode = \"full\"\npool_first = \"10.79.0.1\"\npool_last = \"10.79.0.254\"\n");
        assert!(check(&text).is_ok());
        let wide = text
            .replace("255.255.255.0", "255.255.0.0")
            .replace("10.79.0.254", "10.79.8.0");
        let e = check(&wide).unwrap_err();
        assert!(e.contains("capacity::MAX_POOL"), "{e}");
    }

    #[test]
    fn files_that_do_not_fit_fail_with_sizes() {
        let dir = std::env::temp_dir().join(format!("awl-pack-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("big.bin"), vec![0u8; 100_000]).unwrap();
        let toml = dir.join("appliance.toml");
        let text = format!("{MINIMAL}[[files]]\nname = \"big.bin\"\npath = \"big.bin\"\n");
        let small = Board {
            name: "tiny",
            flash_bytes: 200_000,
        };
        let e = parse(&toml, &text, small).unwrap_err();
        assert!(e.contains("100000 bytes of files + 131072 bytes kept for code = 231072 bytes, over 200000 bytes by 31072 bytes"), "{e}");
        let a = parse(&toml, &text, BOARD).unwrap();
        assert_eq!(a.files[0].size, 100_000);
        let src = render(&a, &toml);
        assert!(src.contains("include_bytes!"), "{src}");
        let e = parse(
            &toml,
            &text.replace("name = \"big.bin\"", "name = \"../big.bin\""),
            BOARD,
        )
        .unwrap_err();
        assert!(e.contains("[[files]] name"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn templates_are_checked() {
        let dir = std::env::temp_dir().join(format!("awl-pack-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok.ipxe"), "#!ipxe\necho {{mac}} ${net0/ip}\n").unwrap();
        std::fs::write(dir.join("bad.ipxe"), "#!ipxe\n\necho {{nope}}\n").unwrap();
        let toml = dir.join("appliance.toml");
        let text =
            format!("{MINIMAL}[[files]]\nname = \"ok.ipxe\"\npath = \"ok.ipxe\"\nrender = true\n");
        assert!(parse(&toml, &text, BOARD).unwrap().files[0].render);
        let e = parse(&toml, &text.replace("ok.ipxe", "bad.ipxe"), BOARD).unwrap_err();
        assert!(
            e.contains(":8: [[files]] render:") && e.contains("bad.ipxe:3: {{nope}}"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("02:a7:10:00:00:01"),
            Some([2, 0xa7, 0x10, 0, 0, 1])
        );
        assert_eq!(parse_mac("02:a7:10:00:00"), None);
        assert_eq!(parse_mac("02:a7:10:00:00:01:02"), None);
        assert_eq!(parse_mac("zz:a7:10:00:00:01"), None);
    }
}
