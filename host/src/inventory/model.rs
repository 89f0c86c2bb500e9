//! What the inventory holds, and how servers find a machine in it.
//!
//! These are plain values: reading them from a file (with positions for
//! error messages) is [`super::file`], checking them is [`super::check`],
//! merging them is [`super::resolve`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Variables: a name and any TOML value (string, number, array, table).
pub type Vars = BTreeMap<String, toml::Value>;

/// Everything: distros, profiles, systems, and what unknown machines get.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// What a machine that no system names gets (`[unknown]`).
    pub unknown: UnknownPolicy,
    /// `[[distro]]`, in file order.
    pub distros: Vec<Distro>,
    /// `[[profile]]`, in file order.
    pub profiles: Vec<Profile>,
    /// `[[system]]`, in file order.
    pub systems: Vec<System>,
    /// The file it was read from (named in problems).
    pub path: Option<PathBuf>,
    /// The text it was read from, when entries may be appended to that
    /// text and read alone (see [`super::append`]).
    pub source: Option<Source>,
}

/// Equal when they hold the same entries: where each stood in which file
/// is not part of what it is.
impl PartialEq for Inventory {
    fn eq(&self, other: &Self) -> bool {
        self.unknown == other.unknown
            && self.distros == other.distros
            && self.profiles == other.profiles
            && self.systems == other.systems
    }
}

/// A kernel, its initrd(s) and where the installer finds its packages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distro {
    /// Its name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// The kernel: a path under the files root, or a URL.
    pub kernel: String,
    /// The initrd(s), in the order the kernel gets them: paths or URLs.
    pub initrd: Vec<String>,
    /// The install tree (a mirror's URL), when the installer needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// The architecture (default x86_64).
    pub arch: Arch,
    /// The OS family: which answer-file dialect and boot arguments
    /// (default generic).
    pub family: Family,
    /// Kernel arguments every profile on it starts from.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_args: String,
    /// Family `image`: the raw disk image the deploy environment (its
    /// kernel and initrd) writes to the disk: a path under the files root,
    /// or a URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Family `image`: the image's SHA-256 (hex), checked by the deploy
    /// environment before the disk may boot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_sha256: Option<String>,
    /// Where it stands in its file.
    #[serde(skip)]
    pub place: Place,
}

/// A way to install: a distro (or a parent profile to inherit from), an
/// answer-file template, kernel arguments and variables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Its distro; exactly one of `distro` and `parent` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// The profile it inherits from (which gives it its distro).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The answer-file template: a built-in's name ("kickstart",
    /// "preseed", "autoinstall") or a path; inherited when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Kernel arguments, merged over the parent's or distro's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_args: String,
    /// Variables for the templates, over the parent's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: Vars,
    /// Where it stands in its file.
    #[serde(skip)]
    pub place: Place,
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct System {
    /// Its name.
    pub name: String,
    /// How it installs; `None`: it is only a DHCP reservation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Whether it boots into its install (see [`System::netboot`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netboot: Option<Netboot>,
    /// Its SMBIOS UUID (DHCP option 97).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Uuid>,
    /// A boot file (TFTP path) or URL DHCP gives it instead of the one its
    /// firmware gets (dnsmasq's `--dhcp-host …,boot=`, Cobbler's
    /// `filename`); `None`: that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_file: Option<String>,
    /// Kernel arguments, merged over its profile's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_args: String,
    /// Its network interfaces (`[[system.interface]]`).
    #[serde(rename = "interface", skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Variables, over its profile's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: Vars,
    /// Variables only this system's answer file sees (a root password
    /// hash, SSH keys); never merged from anywhere, hidden by `show`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: Vars,
    /// Where it stands in its file.
    #[serde(skip)]
    pub place: Place,
}

impl System {
    /// Whether it netboots into its install: as written, else `always`
    /// with a profile and `never` without one.
    pub fn netboot(&self) -> Netboot {
        self.netboot.unwrap_or(if self.profile.is_some() {
            Netboot::Always
        } else {
            Netboot::Never
        })
    }

    /// Its first hostname, if any interface has one.
    pub fn hostname(&self) -> Option<&str> {
        self.interfaces.iter().find_map(|i| i.hostname.as_deref())
    }
}

/// A network interface of a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Its hardware address.
    pub mac: Mac,
    /// Its fixed address (a DHCP reservation); `None`: from the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Its hostname (DHCP option 12, and for the installer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// `[unknown]`: what a machine that no system names gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnknownPolicy {
    /// What happens.
    pub action: UnknownAction,
    /// The profile for `default-profile` (kept, unused, with the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where it stands in its file.
    #[serde(skip)]
    pub place: Place,
}

/// Where an entry and its fields stand in the file it was read from.
/// Entries made in memory have none; problems about them name the entry
/// and field only.
#[derive(Debug, Clone, Default)]
pub struct Place {
    /// The entry's table header.
    pub table: Option<Pos>,
    /// Each field's value, by its dotted name (`kernel`,
    /// `interface[0].mac`, `vars.packages`).
    pub fields: BTreeMap<String, Pos>,
}

/// Places never make two entries differ.
impl PartialEq for Place {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Place {
    /// Where `field` stands, else where its entry does.
    pub fn of(&self, field: &str) -> Option<Pos> {
        self.fields.get(field).copied().or(self.table)
    }
}

/// A place in a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Column (characters).
    pub column: usize,
}

/// Enums written as fixed words in the file and on the command line.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }
        impl $name {
            /// Every value, in the order the docs list them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];
            /// The word for it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word,)+ }
            }
            /// The words, for error messages: "a, b or c".
            pub fn choices() -> String {
                let words: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match words.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => words.join(""),
                }
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| format!("{text:?}: expected {}", Self::choices()))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

words! {
    /// A machine architecture.
    Arch {
        /// 64-bit x86 (also called amd64).
        #[default]
        X86_64 = "x86_64",
        /// 32-bit x86.
        I386 = "i386",
        /// 64-bit ARM (arm64).
        Aarch64 = "aarch64",
        /// 32-bit ARM (armhf).
        Arm = "arm",
        /// 64-bit little-endian POWER.
        Ppc64le = "ppc64le",
        /// IBM Z.
        S390x = "s390x",
        /// 64-bit RISC-V.
        Riscv64 = "riscv64",
    }
}

words! {
    /// An OS family: which installer, answer-file dialect and arguments.
    Family {
        /// Red Hat, Fedora, CentOS, Rocky, Alma (Anaconda, kickstart).
        RedHat = "redhat",
        /// Debian (debian-installer, preseed).
        Debian = "debian",
        /// Ubuntu (subiquity, autoinstall).
        Ubuntu = "ubuntu",
        /// SUSE, openSUSE (AutoYaST).
        Suse = "suse",
        /// A raw disk image, written by awl's deploy environment and set
        /// up at first boot by cloud-init (NoCloud, from awl).
        Image = "image",
        /// Anything else: awl knows nothing of its installer.
        #[default]
        Generic = "generic",
    }
}

words! {
    /// Whether a system boots into its install.
    Netboot {
        /// Every time it netboots.
        #[default]
        Always = "always",
        /// Once: after it reports installed, it boots locally.
        Once = "once",
        /// Never: it gets an address, and boots from its disk.
        Never = "never",
    }
}

words! {
    /// What a machine that no system names gets.
    UnknownAction {
        /// It installs with `[unknown] profile`.
        DefaultProfile = "default-profile",
        /// A boot menu of the profiles, whose default boots from the disk.
        #[default]
        Menu = "menu",
        /// No boot options at all.
        Ignore = "ignore",
    }
}

/// A hardware address, written `52:54:00:12:34:56`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        crate::settings::machines::parse_mac(text.trim()).map(Self)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An SMBIOS system UUID, written `4c4c4544-0042-3510-8052-b4c04f4b4d32`
/// (as `dmidecode -s system-uuid` prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The same UUID with its first three fields byte-swapped: the form
    /// some firmware sends in DHCP option 97 (the PXE specification does
    /// not say which byte order).
    pub fn swapped(&self) -> Self {
        let mut b = self.0;
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
        Self(b)
    }
}

impl FromStr for Uuid {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let hex: String = text.trim().chars().filter(|c| *c != '-').collect();
        let groups: Vec<usize> = text.trim().split('-').map(str::len).collect();
        let shape_ok = groups == [8, 4, 4, 4, 12] || groups == [32];
        let bad = || format!("{text}: expected a UUID like 4c4c4544-0042-3510-8052-b4c04f4b4d32");
        if !shape_ok || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for Uuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Lookups. The inventory is small (hundreds to a few thousand systems);
/// each is a scan, which costs less than the request it serves.
impl Inventory {
    /// The file it came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The distro named `name`.
    pub fn distro(&self, name: &str) -> Option<&Distro> {
        self.distros.iter().find(|d| d.name == name)
    }

    /// The profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The system named `name`.
    pub fn system(&self, name: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.name == name)
    }

    /// The system with an interface of this MAC, and that interface.
    pub fn system_by_mac(&self, mac: [u8; 6]) -> Option<(&System, &Interface)> {
        self.systems
            .iter()
            .find_map(|s| s.interfaces.iter().find(|i| i.mac.0 == mac).map(|i| (s, i)))
    }

    /// The system with this UUID, as written.
    pub fn system_by_uuid(&self, uuid: &Uuid) -> Option<&System> {
        self.systems.iter().find(|s| s.uuid.as_ref() == Some(uuid))
    }

    /// The system whose UUID a client sent in DHCP option 97 (the 16
    /// bytes after the type byte), in either byte order firmware uses.
    pub fn system_by_client_uuid(&self, guid: [u8; 16]) -> Option<&System> {
        let sent = Uuid(guid);
        self.system_by_uuid(&sent)
            .or_else(|| self.system_by_uuid(&sent.swapped()))
    }

    /// The system with an interface of this fixed address.
    pub fn system_by_ip(&self, ip: Ipv4Addr) -> Option<(&System, &Interface)> {
        self.systems.iter().find_map(|s| {
            s.interfaces
                .iter()
                .find(|i| i.ip == Some(ip))
                .map(|i| (s, i))
        })
    }

    /// Who uses distro `name`: "profile NAME" for each profile on it.
    pub fn users_of_distro(&self, name: &str) -> Vec<String> {
        self.profiles
            .iter()
            .filter(|p| p.distro.as_deref() == Some(name))
            .map(|p| format!("profile {}", p.name))
            .collect()
    }

    /// Who uses profile `name`: child profiles, systems, and `[unknown]`.
    pub fn users_of_profile(&self, name: &str) -> Vec<String> {
        let mut users: Vec<String> = self
            .profiles
            .iter()
            .filter(|p| p.parent.as_deref() == Some(name))
            .map(|p| format!("profile {}", p.name))
            .collect();
        users.extend(
            self.systems
                .iter()
                .filter(|s| s.profile.as_deref() == Some(name))
                .map(|s| format!("system {}", s.name)),
        );
        if self.unknown.profile.as_deref() == Some(name) {
            users.push("[unknown] profile".into());
        }
        users
    }
}

/// The text a version of the inventory was read from (see
/// [`super::append`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its length in bytes.
    pub len: usize,
    /// Its line count (it ends with a newline).
    pub lines: usize,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

impl Source {
    /// `text`'s, when entries may be appended to it: it ends with a
    /// newline (the caller knows its lists are tables).
    pub fn of(text: &str) -> Option<Self> {
        text.ends_with('\n').then(|| Self {
            len: text.len(),
            lines: count_lines(text),
            sha256: Sha256::digest(text.as_bytes()).into(),
        })
    }
}

/// How many lines `text` has (newlines counted).
pub(crate) fn count_lines(text: &str) -> usize {
    text.bytes().filter(|b| *b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_and_uuids_read_and_print_canonically() {
        let mac: Mac = "52-54-00-AB-cd-0e".parse().unwrap();
        assert_eq!(mac.to_string(), "52:54:00:ab:cd:0e");
        assert!("52:54:00:ab:cd".parse::<Mac>().is_err());
        let uuid: Uuid = "4C4C4544-0042-3510-8052-B4C04F4B4D32".parse().unwrap();
        assert_eq!(uuid.to_string(), "4c4c4544-0042-3510-8052-b4c04f4b4d32");
        assert_eq!(
            "4c4c454400423510 8052b4c04f4b4d32"
                .replace(' ', "")
                .parse::<Uuid>(),
            Ok(uuid)
        );
        assert_eq!(
            uuid.swapped().to_string(),
            "44454c4c-4200-1035-8052-b4c04f4b4d32"
        );
        for bad in [
            "4c4c4544-0042-3510-8052",
            "zc4c4544-0042-3510-8052-b4c04f4b4d32",
            "",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn words_read_and_list_their_choices() {
        assert_eq!("x86_64".parse::<Arch>(), Ok(Arch::X86_64));
        assert_eq!("default-profile".parse(), Ok(UnknownAction::DefaultProfile));
        let e = "redhta".parse::<Family>().unwrap_err();
        assert_eq!(
            e,
            "\"redhta\": expected redhat, debian, ubuntu, suse, image or generic"
        );
        assert_eq!(UnknownAction::default(), UnknownAction::Menu);
        assert_eq!(Netboot::default(), Netboot::Always);
    }
}
