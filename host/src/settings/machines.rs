//! Single machines the DHCP server knows by name: a fixed address, a boot
//! file of their own, or "never netboot" (`--dhcp-host`, `[[dhcp.host]]`).
//! The same thing as dnsmasq's `--dhcp-host` and a Cobbler system record's
//! network settings; the core applies them (`awl_core::dhcp::Reservation`).
//!
//! ```text
//! --dhcp-host 52:54:00:12:34:56,10.0.0.20
//! --dhcp-host id:01:52:54:00:12:34:56,10.0.0.21,boot=custom/grubx64.efi
//! --dhcp-host 52:54:00:aa:bb:cc,netboot=no
//! ```

use std::net::Ipv4Addr;

use serde::Deserialize;
use toml::Spanned;

/// How a machine is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MachineId {
    /// By its hardware address.
    Mac([u8; 6]),
    /// By its client identifier (option 61: type byte, then the id).
    ClientId(Vec<u8>),
}

impl MachineId {
    /// The MAC this names: its own, or the one a client identifier of
    /// type 1 (Ethernet, RFC 2132 9.14) holds, `01:52:54:00:12:34:56`,
    /// which is what most clients that send one send.
    pub fn mac(&self) -> Option<[u8; 6]> {
        match self {
            Self::Mac(mac) => Some(*mac),
            Self::ClientId(id) => match id.split_first() {
                Some((1, mac)) => mac.try_into().ok(),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for MachineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = |bytes: &[u8]| {
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        match self {
            Self::Mac(mac) => f.write_str(&hex(mac)),
            Self::ClientId(id) => write!(f, "id:{}", hex(id)),
        }
    }
}

/// One machine's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Who it is.
    pub id: MachineId,
    /// Its fixed address; `None`: from the pool.
    pub ip: Option<Ipv4Addr>,
    /// A boot file (TFTP) or URL instead of the one its architecture gets;
    /// empty: that one.
    pub boot: String,
    /// `false`: it gets an address but never boot options.
    pub netboot: bool,
}

/// `[[dhcp.host]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSection {
    /// "52:54:00:12:34:56"
    pub mac: Option<Spanned<String>>,
    /// "01:52:54:00:12:34:56" (option 61, hex bytes)
    pub client_id: Option<Spanned<String>>,
    /// Fixed address.
    pub ip: Option<Ipv4Addr>,
    /// Boot file or URL.
    #[serde(default)]
    pub boot_file: String,
    /// Whether it gets boot options (default true).
    pub netboot: Option<bool>,
}

/// Parses hex bytes separated by `:` or `-` ("52:54:00:12:34:56").
fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text
        .split([':', '-'])
        .map(|b| match b.len() {
            1 | 2 => u8::from_str_radix(b, 16).ok(),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("{text}: expected hex bytes like 52:54:00:12:34:56"))?;
    Ok(bytes)
}

/// Parses a MAC address.
pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    hex_bytes(text)?
        .try_into()
        .map_err(|_| format!("{text}: a MAC address has 6 bytes"))
}

/// Parses a client identifier (at least a type byte and one more).
pub fn parse_client_id(text: &str) -> Result<Vec<u8>, String> {
    let id = hex_bytes(text)?;
    if !(2..=255).contains(&id.len()) {
        return Err(format!("{text}: a client identifier has 2 to 255 bytes"));
    }
    Ok(id)
}

/// Parses `--dhcp-host MAC|id:CLIENT-ID[,IP][,boot=FILE|URL][,netboot=no]`.
pub fn parse_machine(text: &str) -> Result<Machine, String> {
    let mut parts = text.split(',');
    let who = parts.next().unwrap_or_default().trim();
    let id = match who.strip_prefix("id:") {
        Some(id) => MachineId::ClientId(parse_client_id(id)?),
        None => MachineId::Mac(parse_mac(who)?),
    };
    let mut machine = Machine {
        id,
        ip: None,
        boot: String::new(),
        netboot: true,
    };
    for part in parts.map(str::trim) {
        if let Some(file) = part.strip_prefix("boot=") {
            machine.boot = file.to_string();
        } else if let Some(value) = part.strip_prefix("netboot=") {
            machine.netboot = match value {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => return Err(format!("netboot={value}: yes or no")),
            };
        } else if let Ok(ip) = part.parse() {
            if machine.ip.replace(ip).is_some() {
                return Err(format!("{part}: a second address"));
            }
        } else {
            return Err(format!(
                "{part}: expected an address, boot=FILE or netboot=no"
            ));
        }
    }
    Ok(machine)
}

/// What is wrong with a `[[dhcp.host]]` table: the field, where its value
/// stands in the file (byte range), and why.
pub type SectionError = (&'static str, std::ops::Range<usize>, String);

/// Reads one `[[dhcp.host]]` table.
pub fn from_section(section: &Spanned<MachineSection>) -> Result<Machine, SectionError> {
    let s = section.get_ref();
    let id = match (&s.mac, &s.client_id) {
        (Some(mac), None) => parse_mac(mac.get_ref())
            .map(MachineId::Mac)
            .map_err(|e| ("dhcp.host.mac", mac.span(), e))?,
        (None, Some(id)) => parse_client_id(id.get_ref())
            .map(MachineId::ClientId)
            .map_err(|e| ("dhcp.host.client_id", id.span(), e))?,
        (Some(mac), Some(_)) => {
            let why = "give mac or client_id, not both".into();
            return Err(("dhcp.host.mac", mac.span(), why));
        }
        (None, None) => {
            let why = "needs mac or client_id".into();
            return Err(("dhcp.host", section.span(), why));
        }
    };
    Ok(Machine {
        id,
        ip: s.ip,
        boot: s.boot_file.clone(),
        netboot: s.netboot.unwrap_or(true),
    })
}

/// Problems between entries, the same machine or the same address twice:
/// the index of the later entry, and why.
pub fn conflicts(machines: &[Machine]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, m) in machines.iter().enumerate() {
        let earlier = &machines[..i];
        // `mac = X` and `client_id = "01:X"` are one machine.
        let same =
            |e: &&Machine| e.id == m.id || (m.id.mac().is_some() && e.id.mac() == m.id.mac());
        if earlier.iter().any(|e| same(&e)) {
            out.push((i, format!("{} is listed twice", m.id)));
        }
        if let Some(ip) = m.ip {
            if let Some(e) = earlier.iter().find(|e| e.ip == Some(ip)) {
                out.push((
                    i,
                    format!("{ip} is reserved for both {} and {}", e.id, m.id),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_like_dnsmasq() {
        assert_eq!(
            parse_machine("52:54:00:12:34:56,10.0.0.20").unwrap(),
            Machine {
                id: MachineId::Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
                ip: Some(Ipv4Addr::new(10, 0, 0, 20)),
                boot: String::new(),
                netboot: true,
            }
        );
        let m = parse_machine("id:01:52:54:00:12:34:56,boot=http://x/y.ipxe,netboot=yes").unwrap();
        assert_eq!(
            m.id,
            MachineId::ClientId(vec![1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!((m.ip, m.boot.as_str()), (None, "http://x/y.ipxe"));
        assert!(
            !parse_machine("52-54-00-aa-bb-cc,netboot=no")
                .unwrap()
                .netboot
        );
        for bad in [
            "52:54:00:12:34",
            "52:54:00:12:34:zz",
            "id:01",
            "52:54:00:12:34:56,10.0.0.1,10.0.0.2",
            "52:54:00:12:34:56,netboot=maybe",
            "52:54:00:12:34:56,fast",
        ] {
            assert!(parse_machine(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_identifier_of_type_1_names_a_mac() {
        let mac = |text: &str| parse_machine(text).unwrap().id.mac();
        let m = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        assert_eq!(mac("52:54:00:12:34:56"), Some(m));
        assert_eq!(mac("id:01:52:54:00:12:34:56"), Some(m));
        // Another type, or not six bytes after the type: no MAC.
        assert_eq!(mac("id:ff:52:54:00:12:34:56"), None);
        assert_eq!(mac("id:01:52:54:00:12:34"), None);
        assert_eq!(mac("id:01:52:54:00:12:34:56:78"), None);
    }

    #[test]
    fn a_mac_and_its_client_identifier_are_one_machine() {
        let a = parse_machine("52:54:00:00:00:05,10.0.0.50").unwrap();
        let b = parse_machine("id:01:52:54:00:00:00:05,10.0.0.51").unwrap();
        let c = parse_machine("id:ff:52:54:00:00:00:05,10.0.0.52").unwrap();
        let found = conflicts(&[a, b, c]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 1);
        assert!(found[0].1.contains("listed twice"), "{found:?}");
    }

    #[test]
    fn the_same_machine_or_address_twice_is_a_conflict() {
        let a = parse_machine("52:54:00:00:00:01,10.0.0.20").unwrap();
        let b = parse_machine("52:54:00:00:00:02,10.0.0.20").unwrap();
        let c = parse_machine("52:54:00:00:00:01").unwrap();
        assert!(conflicts(std::slice::from_ref(&a)).is_empty());
        let found = conflicts(&[a, b, c]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0],
            (
                1,
                "10.0.0.20 is reserved for both 52:54:00:00:00:01 and 52:54:00:00:00:02".into()
            )
        );
        assert_eq!(found[1], (2, "52:54:00:00:00:01 is listed twice".into()));
    }
}
