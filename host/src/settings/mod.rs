//! The configuration file (TOML). Every `awl serve` flag has a key here;
//! a flag given on the command line wins over the file.
//!
//! ```toml
//! [tftp]
//! root = "/srv/tftp"           # --tftp-root
//! listen = "0.0.0.0:69"        # --tftp-listen
//! mtu = 1500                   # --tftp-mtu
//! max_windowsize = 64          # --tftp-max-windowsize
//! transfers = 256              # --tftp-transfers
//! max_per_ip = 64              # --tftp-max-per-ip
//! upload_dir = "/srv/uploads"  # --tftp-upload-dir (uploads off without it)
//! max_upload = 67108864        # --tftp-max-upload
//!
//! [syslog]
//! listen = "0.0.0.0:514"       # --syslog-listen (installers' logs)
//!
//! [http]
//! listen = "0.0.0.0:80"        # --http-listen
//! url = "http://10.0.0.1"      # --http-url (what machines are given)
//!
//! [inventory]
//! file = "/var/lib/awl/inventory.toml"  # --inventory
//! templates = "/etc/awl/templates"      # --templates
//!
//! [dhcp]
//! interface = "eth1"           # --interface
//! range = "10.0.0.100,10.0.0.200"  # --dhcp-range (or proxy = true)
//! ipxe_script = "http://10.0.0.1/boot.ipxe"
//!
//! [[dhcp.relayed]]             # --dhcp-relayed 10.1.0.0/16,10.1.0.10,10.1.0.200,10.1.0.1
//! network = "10.1.0.0/16"      # requests relayed with a giaddr in here ...
//! range = "10.1.0.10,10.1.0.200"   # ... get addresses from this pool
//! routers = ["10.1.0.1"]
//!
//! [[dhcp.host]]                # --dhcp-host 52:54:00:12:34:56,10.0.0.20
//! mac = "52:54:00:12:34:56"    # or client_id = "01:52:54:00:12:34:56"
//! ip = "10.0.0.20"
//! ```
//!
//! Errors name the file, line and column, and the field: unknown keys,
//! wrong types, and values that make no sense (a root that is not a
//! directory) are all refused before anything starts.

pub mod machines;
pub mod quick;
pub mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[tftp]`
    #[serde(default)]
    pub tftp: TftpSection,
    /// `[dhcp]`
    #[serde(default)]
    pub dhcp: DhcpSection,
    /// `[http]`
    #[serde(default)]
    pub http: HttpSection,
    /// `[inventory]`
    #[serde(default)]
    pub inventory: InventorySection,
    /// `[syslog]`
    #[serde(default)]
    pub syslog: SyslogSection,
}

/// `[syslog]`: what `--syslog-listen` sets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSection {
    /// `--syslog-listen`
    pub listen: Option<Spanned<SocketAddr>>,
}

/// `[http]`: what `--http-listen` and `--http-url` set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// `--http-listen`
    pub listen: Option<Spanned<SocketAddr>>,
    /// `--http-url`
    pub url: Option<Spanned<String>>,
}

/// `[inventory]`: what `--inventory` and `--templates` set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySection {
    /// `--inventory`
    pub file: Option<Spanned<PathBuf>>,
    /// `--templates`
    pub templates: Option<Spanned<PathBuf>>,
}

/// `[dhcp]`: what the DHCP flags set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpSection {
    /// `--interface`
    pub interface: Option<String>,
    /// `--dhcp-range`, as "FIRST,LAST"
    pub range: Option<Spanned<String>>,
    /// `--proxy`
    pub proxy: Option<bool>,
    /// `--dhcp-router`
    pub routers: Option<Vec<std::net::Ipv4Addr>>,
    /// `--dhcp-dns`
    pub dns: Option<Vec<std::net::Ipv4Addr>>,
    /// `--dhcp-domain`
    pub domain: Option<String>,
    /// `--dhcp-lease-time`, seconds
    pub lease_time: Option<u64>,
    /// `--dhcp-leases`
    pub leases: Option<usize>,
    /// `--lease-file`
    pub lease_file: Option<PathBuf>,
    /// `--boot-bios`
    pub boot_bios: Option<String>,
    /// `--boot-uefi-x64`
    pub boot_uefi_x64: Option<String>,
    /// `--boot-uefi-arm64`
    pub boot_uefi_arm64: Option<String>,
    /// `--ipxe-script`
    pub ipxe_script: Option<String>,
    /// `--http-boot`
    pub http_boot: Option<String>,
    /// `--dhcp-relayed`, one table each
    #[serde(default)]
    pub relayed: Vec<RelayedSection>,
    /// `--dhcp-host`, one `[[dhcp.host]]` table each
    #[serde(default, rename = "host")]
    pub hosts: Vec<Spanned<machines::MachineSection>>,
}

/// `[[dhcp.relayed]]`: a subnet served through relay agents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayedSection {
    /// "NETWORK/PREFIX"
    pub network: Spanned<String>,
    /// "FIRST,LAST"
    pub range: Spanned<String>,
    /// Routers (option 3).
    #[serde(default)]
    pub routers: Vec<std::net::Ipv4Addr>,
}

/// A subnet served through relay agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// Its network address.
    pub network: std::net::Ipv4Addr,
    /// Its mask.
    pub mask: std::net::Ipv4Addr,
    /// Its pool.
    pub range: (std::net::Ipv4Addr, std::net::Ipv4Addr),
    /// Its routers.
    pub routers: Vec<std::net::Ipv4Addr>,
}

/// Parses "NETWORK/PREFIX" into a network address and a mask.
pub fn parse_network(text: &str) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), String> {
    let (net, prefix) = text.split_once('/').ok_or("expected NETWORK/PREFIX")?;
    let net: std::net::Ipv4Addr = net.trim().parse().map_err(|e| format!("{net}: {e}"))?;
    let prefix: u32 = prefix
        .trim()
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("{prefix}: a prefix length is 0 to 32"))?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    Ok((std::net::Ipv4Addr::from(u32::from(net) & mask), mask.into()))
}

/// Parses and checks one relayed subnet: the pool must lie inside it.
pub fn relayed(
    network: &str,
    range: &str,
    routers: Vec<std::net::Ipv4Addr>,
) -> Result<Relayed, String> {
    let (network, mask) = parse_network(network)?;
    let range = parse_range(range)?;
    let inside = |ip: std::net::Ipv4Addr| u32::from(ip) & u32::from(mask) == u32::from(network);
    if !inside(range.0) || !inside(range.1) {
        return Err(format!(
            "range {},{} is not inside {network}/{}",
            range.0,
            range.1,
            u32::from(mask).count_ones()
        ));
    }
    Ok(Relayed {
        network,
        mask,
        range,
        routers,
    })
}

/// Parses `--dhcp-relayed NETWORK/PREFIX,FIRST,LAST[,ROUTER...]`.
pub fn parse_relayed(text: &str) -> Result<Relayed, String> {
    let mut parts = text.split(',');
    let (Some(network), Some(first), Some(last)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected NETWORK/PREFIX,FIRST,LAST[,ROUTER...]".into());
    };
    let routers = parts
        .map(|r| r.trim().parse().map_err(|e| format!("{r}: {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    relayed(network, &format!("{first},{last}"), routers)
}

/// Parses "FIRST,LAST" into an address range.
pub fn parse_range(text: &str) -> Result<(std::net::Ipv4Addr, std::net::Ipv4Addr), String> {
    let (a, b) = text.split_once(',').ok_or("expected FIRST,LAST")?;
    let first: std::net::Ipv4Addr = a.trim().parse().map_err(|e| format!("{a}: {e}"))?;
    let last: std::net::Ipv4Addr = b.trim().parse().map_err(|e| format!("{b}: {e}"))?;
    if u32::from(first) > u32::from(last) {
        return Err(format!("{first} comes after {last}"));
    }
    Ok((first, last))
}

/// `[tftp]`: what the `--tftp-*` flags set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TftpSection {
    /// Served directory.
    pub root: Option<Spanned<PathBuf>>,
    /// Listen address.
    pub listen: Option<Spanned<SocketAddr>>,
    /// Path MTU.
    pub mtu: Option<Spanned<usize>>,
    /// Largest window granted.
    pub max_windowsize: Option<Spanned<u16>>,
    /// Concurrent transfers.
    pub transfers: Option<Spanned<usize>>,
    /// Concurrent transfers per IP.
    pub max_per_ip: Option<Spanned<u16>>,
    /// Upload directory.
    pub upload_dir: Option<Spanned<PathBuf>>,
    /// Largest upload.
    pub max_upload: Option<Spanned<u64>>,
}

/// A configuration file read and checked.
pub struct Loaded {
    /// Where it came from.
    pub path: PathBuf,
    text: String,
    /// Its contents.
    pub file: ConfigFile,
}

/// `line:column` (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

impl Loaded {
    /// Reads and parses `path`; a syntax or type error names file, line,
    /// column and field.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        match toml::from_str::<ConfigFile>(&text) {
            Ok(file) => Ok(Self {
                path: path.to_path_buf(),
                text,
                file,
            }),
            Err(e) => {
                let (line, col) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
                bail!(
                    "{}:{line}:{col}: {}",
                    path.display(),
                    e.message().trim_end()
                );
            }
        }
    }

    /// An error about `field`, at the place its value stands.
    pub fn error_at<T>(&self, field: &str, value: &Spanned<T>, message: &str) -> anyhow::Error {
        self.error_at_offset(field, value.span().start, message)
    }

    fn error_at_offset(&self, field: &str, offset: usize, message: &str) -> anyhow::Error {
        let (line, col) = line_col(&self.text, offset);
        anyhow::anyhow!("{}:{line}:{col}: {field}: {message}", self.path.display())
    }

    /// The `[[dhcp.host]]` tables read, or every problem with them (each
    /// at its place in the file).
    pub fn machines(&self) -> Result<Vec<machines::Machine>, Vec<anyhow::Error>> {
        let mut list = Vec::new();
        // The table each one of `list` was read from.
        let mut tables = Vec::new();
        let mut out = Vec::new();
        for (table, section) in self.file.dhcp.hosts.iter().enumerate() {
            match machines::from_section(section) {
                Ok(m) => {
                    list.push(m);
                    tables.push(table);
                }
                Err((field, span, why)) => out.push(self.error_at_offset(field, span.start, &why)),
            }
        }
        for (i, why) in machines::conflicts(&list) {
            out.push(self.host_error(tables.get(i).copied().unwrap_or(0), &why));
        }
        if out.is_empty() {
            Ok(list)
        } else {
            Err(out)
        }
    }

    /// Where the `[[dhcp.host]]` tables name what the inventory's systems
    /// also name (`file`: the inventory's): every clash, at its table.
    pub fn clashes_with(
        &self,
        inventory: &crate::inventory::model::Inventory,
        file: &Path,
    ) -> Vec<anyhow::Error> {
        // With any table unread, its own problems are what is reported.
        let list = self.machines().unwrap_or_default();
        crate::install::clashes(&list, inventory, file)
            .into_iter()
            .map(|(i, why)| self.host_error(i, &why))
            .collect()
    }

    /// An error about the `i`th `[[dhcp.host]]` table.
    fn host_error(&self, i: usize, why: &str) -> anyhow::Error {
        let at = self.file.dhcp.hosts.get(i).map_or(0, |s| s.span().start);
        self.error_at_offset("dhcp.host", at, why)
    }

    /// Checks values the parser cannot: directories exist, numbers are in
    /// range. Returns every problem, not just the first.
    pub fn problems(&self) -> Vec<anyhow::Error> {
        let mut out = Vec::new();
        let t = &self.file.tftp;
        for (field, dir) in [("tftp.root", &t.root), ("tftp.upload_dir", &t.upload_dir)] {
            if let Some(dir) = dir {
                if !dir.get_ref().is_dir() {
                    out.push(self.error_at(
                        field,
                        dir,
                        &format!("{} is not a directory", dir.get_ref().display()),
                    ));
                }
            }
        }
        if let Some(mtu) = &t.mtu {
            if !(576..=65_536).contains(mtu.get_ref()) {
                out.push(self.error_at("tftp.mtu", mtu, "must be between 576 and 65536"));
            }
        }
        if let Some(w) = &t.max_windowsize {
            if *w.get_ref() == 0 {
                out.push(self.error_at("tftp.max_windowsize", w, "must be at least 1"));
            }
        }
        if let Some(n) = &t.transfers {
            if !(1..=65_535).contains(n.get_ref()) {
                out.push(self.error_at("tftp.transfers", n, "must be between 1 and 65535"));
            }
        }
        if let Some(range) = &self.file.dhcp.range {
            if let Err(e) = parse_range(range.get_ref()) {
                out.push(self.error_at("dhcp.range", range, &e));
            }
        }
        for r in &self.file.dhcp.relayed {
            if let Err(e) = parse_network(r.network.get_ref()) {
                out.push(self.error_at("dhcp.relayed.network", &r.network, &e));
            } else if let Err(e) = relayed(r.network.get_ref(), r.range.get_ref(), Vec::new()) {
                out.push(self.error_at("dhcp.relayed.range", &r.range, &e));
            }
        }
        if let Err(problems) = self.machines() {
            out.extend(problems);
        }
        if let (Some(root), Some(up)) = (&t.root, &t.upload_dir) {
            let same = root
                .get_ref()
                .canonicalize()
                .ok()
                .zip(up.get_ref().canonicalize().ok());
            if same.is_some_and(|(r, u)| u.starts_with(&r)) {
                out.push(self.error_at(
                    "tftp.upload_dir",
                    up,
                    "must not be inside the served root",
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Loaded> {
        let dir = std::env::temp_dir().join(format!(
            "awl-config-test-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("awl.toml");
        std::fs::write(&path, text).unwrap();
        Loaded::read(&path)
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = load("[tftp]\nroot = \"/\"\nlisten = \"not an address\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("awl.toml:3:"), "{e}");
        let e = load("[tftp]\nrot = \"/srv\"\n").err().unwrap().to_string();
        assert!(e.contains("awl.toml:2:1") && e.contains("rot"), "{e}");
        let e = load("[tftp]\nmtu = \"big\"\n").err().unwrap().to_string();
        assert!(e.contains("awl.toml:2:"), "{e}");
        let loaded = load("[tftp]\nroot = \"/no/such/dir\"\nmtu = 100\ntransfers = 0\n").unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("awl.toml:2:8: tftp.root: /no/such/dir is not a directory"),
            "{problems:?}"
        );
        assert!(problems[1].contains(":3:7: tftp.mtu"), "{problems:?}");
        assert!(
            problems[2].contains(":4:13: tftp.transfers"),
            "{problems:?}"
        );
    }

    #[test]
    fn dhcp_section_is_checked() {
        let loaded = load("[dhcp]\ninterface = \"eth1\"\nrange = \"10.0.0.9,10.0.0.1\"\n").unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(":3:9: dhcp.range: 10.0.0.9 comes after 10.0.0.1"),
            "{problems:?}"
        );
        let e = load("[dhcp]\nrouters = [\"x\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("awl.toml:2:"), "{e}");
    }

    #[test]
    fn machines_are_checked_where_they_stand() {
        let loaded = load(
            "[dhcp]\ninterface = \"eth1\"\n\n\
             [[dhcp.host]]\nmac = \"52:54:00:00:00:01\"\nip = \"10.0.0.20\"\n\n\
             [[dhcp.host]]\nmac = \"52:54:00:00:00:0g\"\n\n\
             [[dhcp.host]]\nclient_id = \"01:52:54:00:00:00:02\"\nip = \"10.0.0.20\"\n\n\
             [[dhcp.host]]\nnetboot = false\n",
        )
        .unwrap();
        let problems: Vec<String> = loaded.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains(":9:7: dhcp.host.mac: 52:54:00:00:00:0g: expected hex bytes"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains(":15:1: dhcp.host: needs mac or client_id"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains(
                ":11:1: dhcp.host: 10.0.0.20 is reserved for both 52:54:00:00:00:01 and id:01:52:54:00:00:00:02"
            ),
            "{problems:?}"
        );
        let good = load(
            "[[dhcp.host]]\nmac = \"52:54:00:00:00:01\"\nboot_file = \"grubx64.efi\"\nnetboot = true\n",
        )
        .unwrap();
        let machines = good.machines().unwrap();
        assert_eq!(machines[0].boot, "grubx64.efi");
    }

    #[test]
    fn http_section() {
        let loaded = load("[http]\nlisten = \"127.0.0.1:8080\"\n").unwrap();
        assert!(loaded.problems().is_empty());
        let listen = loaded.file.http.listen.unwrap();
        assert_eq!(*listen.get_ref(), "127.0.0.1:8080".parse().unwrap());
        let e = load("[http]\nlisten = \"127.0.0.1\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("awl.toml:2:10") && e.contains("socket address"),
            "{e}"
        );
        let e = load("[http]\nlisen = \"127.0.0.1:80\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("awl.toml:2:1") && e.contains("lisen"), "{e}");
    }

    #[test]
    fn a_good_file_reads() {
        let loaded =
            load("[tftp]\nroot = \"/\"\nlisten = \"127.0.0.1:69\"\nmax_windowsize = 16\n").unwrap();
        assert!(loaded.problems().is_empty());
        assert_eq!(*loaded.file.tftp.max_windowsize.unwrap().get_ref(), 16);
    }
}
