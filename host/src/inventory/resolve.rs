//! The merged view of a system: its distro, then its profiles from the
//! top parent down, then the system itself, with where each value came
//! from (`awl system show NAME --resolved`).
//!
//! * kernel arguments merge by key ([`super::kernel_args`]);
//! * variables merge by top-level name, the lower level winning (a table
//!   is replaced whole, not merged);
//! * the template is the nearest profile's that names one;
//! * kernel, initrd(s), tree, arch and family are the distro's;
//! * secrets are the system's alone.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::kernel_args::{self, KernelArg};
use super::model::{Arch, Family, Interface, Inventory, Netboot, Profile, System, Uuid, Vars};

/// Where a merged value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The distro of that name.
    Distro(String),
    /// The profile of that name.
    Profile(String),
    /// The system of that name.
    System(String),
    /// Nobody set it: awl's default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Distro(n) => write!(f, "distro {n}"),
            Self::Profile(n) => write!(f, "profile {n}"),
            Self::System(n) => write!(f, "system {n}"),
            Self::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub from: Origin,
}

/// What booting into an install needs, merged from the distro and the
/// profile chain (and, for a system, the system's kernel arguments).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boot {
    /// The profiles, top parent first, the one named last.
    pub profiles: Vec<String>,
    /// The distro (where kernel, initrd, tree, arch and family come from).
    pub distro: String,
    /// The kernel: a path under the files root, or a URL.
    pub kernel: String,
    /// The initrd(s).
    pub initrd: Vec<String>,
    /// The install tree.
    pub tree: Option<String>,
    /// Family image: the disk image and its SHA-256.
    pub image: Option<String>,
    /// The image's SHA-256 (hex).
    pub image_sha256: Option<String>,
    /// The architecture.
    pub arch: Arch,
    /// The OS family.
    pub family: Family,
    /// The answer-file template, from the nearest profile naming one.
    pub template: Option<Sourced<String>>,
    /// The kernel arguments that remain after merging, in order.
    pub kernel_args: Vec<Sourced<KernelArg>>,
}

impl Boot {
    /// The kernel arguments as one command line.
    pub fn command_line(&self) -> String {
        self.kernel_args
            .iter()
            .map(|a| a.value.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A profile merged down its chain: what an unknown machine gets under
/// `[unknown] action = "default-profile"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedProfile {
    /// Boot settings.
    pub boot: Boot,
    /// Variables by name.
    pub vars: BTreeMap<String, Sourced<toml::Value>>,
}

/// A system merged over its profile chain and distro.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The system's name.
    pub name: String,
    /// Whether it netboots into its install, and who said so.
    pub netboot: Sourced<Netboot>,
    /// Its interfaces.
    pub interfaces: Vec<Interface>,
    /// Its UUID.
    pub uuid: Option<Uuid>,
    /// The boot file DHCP gives it instead of its firmware's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_file: Option<String>,
    /// Boot settings; `None` for a system without a profile.
    pub boot: Option<Boot>,
    /// Variables by name.
    pub vars: BTreeMap<String, Sourced<toml::Value>>,
    /// Its secrets (only its own answer file sees them).
    pub secrets: Vars,
}

impl Inventory {
    /// The profiles from the top parent down to `name`; an unknown name
    /// or a cycle is an error.
    pub fn profile_chain(&self, name: &str) -> Result<Vec<&Profile>, String> {
        let mut chain = Vec::new();
        let mut next = Some(name);
        while let Some(name) = next {
            let p = self
                .profile(name)
                .ok_or_else(|| format!("no profile is named {name}"))?;
            if chain.iter().any(|c: &&Profile| c.name == p.name) {
                return Err(format!("profile {name} inherits from itself"));
            }
            chain.push(p);
            next = p.parent.as_deref();
        }
        chain.reverse();
        Ok(chain)
    }

    /// Profile `name` merged down its chain.
    pub fn resolve_profile(&self, name: &str) -> Result<ResolvedProfile, String> {
        self.merge(name, None)
    }

    /// System `name` merged: distro, profiles, then the system.
    pub fn resolve(&self, name: &str) -> Result<Resolved, String> {
        let system = self
            .system(name)
            .ok_or_else(|| format!("no system is named {name}"))?;
        self.resolve_system(system)
    }

    /// `system` merged: distro, profiles, then the system.
    pub fn resolve_system(&self, system: &System) -> Result<Resolved, String> {
        let mine = Origin::System(system.name.clone());
        let (boot, mut vars) = match &system.profile {
            Some(profile) => {
                let merged = self.merge(profile, Some(system))?;
                (Some(merged.boot), merged.vars)
            }
            None => (None, BTreeMap::new()),
        };
        for (k, v) in &system.vars {
            vars.insert(
                k.clone(),
                Sourced {
                    value: v.clone(),
                    from: mine.clone(),
                },
            );
        }
        let netboot = Sourced {
            value: system.netboot(),
            from: if system.netboot.is_some() {
                mine
            } else {
                Origin::Default
            },
        };
        Ok(Resolved {
            name: system.name.clone(),
            netboot,
            interfaces: system.interfaces.clone(),
            uuid: system.uuid,
            boot_file: system.boot_file.clone(),
            boot,
            vars,
            secrets: system.secrets.clone(),
        })
    }

    /// The chain of `profile` merged over its distro, with `system`'s
    /// kernel arguments last when given.
    fn merge(&self, profile: &str, system: Option<&System>) -> Result<ResolvedProfile, String> {
        let chain = self.profile_chain(profile)?;
        let top = chain.first().ok_or("an empty profile chain")?;
        let distro_name = top
            .distro
            .as_deref()
            .ok_or_else(|| format!("profile {} has neither distro nor parent", top.name))?;
        let distro = self
            .distro(distro_name)
            .ok_or_else(|| format!("no distro is named {distro_name}"))?;
        let mut levels = vec![(
            Origin::Distro(distro.name.clone()),
            parse(&distro.kernel_args)?,
        )];
        let mut vars = BTreeMap::new();
        let mut template = None;
        for p in &chain {
            let from = Origin::Profile(p.name.clone());
            levels.push((from.clone(), parse(&p.kernel_args)?));
            for (k, v) in &p.vars {
                vars.insert(
                    k.clone(),
                    Sourced {
                        value: v.clone(),
                        from: from.clone(),
                    },
                );
            }
            if let Some(t) = &p.template {
                template = Some(Sourced {
                    value: t.clone(),
                    from,
                });
            }
        }
        if let Some(s) = system {
            levels.push((Origin::System(s.name.clone()), parse(&s.kernel_args)?));
        }
        let kernel_args = kernel_args::merge(&levels)
            .into_iter()
            .map(|(value, from)| Sourced { value, from })
            .collect();
        Ok(ResolvedProfile {
            boot: Boot {
                profiles: chain.iter().map(|p| p.name.clone()).collect(),
                distro: distro.name.clone(),
                kernel: distro.kernel.clone(),
                initrd: distro.initrd.clone(),
                tree: distro.tree.clone(),
                image: distro.image.clone(),
                image_sha256: distro.image_sha256.clone(),
                arch: distro.arch,
                family: distro.family,
                template,
                kernel_args,
            },
            vars,
        })
    }
}

fn parse(text: &str) -> Result<Vec<KernelArg>, String> {
    kernel_args::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::file;

    const TEXT: &str = r#"
[[distro]]
name = "deb"
kernel = "deb/linux"
initrd = "deb/initrd.gz"
arch = "x86_64"
family = "debian"
kernel_args = "console=tty0 quiet priority=critical"

[[profile]]
name = "base"
distro = "deb"
template = "preseed"
kernel_args = "console=ttyS0,115200"

[profile.vars]
packages = ["openssh-server"]
timezone = "UTC"

[[profile]]
name = "web"
parent = "base"
kernel_args = "-quiet splash"

[profile.vars]
packages = ["nginx"]

[[system]]
name = "web1"
profile = "web"
kernel_args = "priority=low"

[[system.interface]]
mac = "52:54:00:12:34:56"

[system.vars]
timezone = "Europe/Paris"

[system.secrets]
root_password_hash = "x"

[[system]]
name = "printer"

[[system.interface]]
mac = "52:54:00:12:34:99"
"#;

    #[test]
    fn a_system_merges_over_its_chain_and_says_where_each_value_came_from() {
        let inv = file::parse(TEXT, None).unwrap();
        let r = inv.resolve("web1").unwrap();
        let boot = r.boot.as_ref().unwrap();
        assert_eq!(boot.profiles, ["base", "web"]);
        assert_eq!(
            boot.command_line(),
            "console=ttyS0,115200 priority=low splash"
        );
        let from: Vec<String> = boot
            .kernel_args
            .iter()
            .map(|a| a.from.to_string())
            .collect();
        assert_eq!(from, ["profile base", "system web1", "profile web"]);
        assert_eq!(
            boot.template,
            Some(Sourced {
                value: "preseed".into(),
                from: Origin::Profile("base".into())
            })
        );
        assert_eq!(r.vars["packages"].from, Origin::Profile("web".into()));
        assert_eq!(r.vars["timezone"].value.as_str(), Some("Europe/Paris"));
        assert_eq!(r.vars["timezone"].from, Origin::System("web1".into()));
        assert_eq!(
            r.netboot,
            Sourced {
                value: Netboot::Always,
                from: Origin::Default
            }
        );
        assert!(r.secrets.contains_key("root_password_hash"));
        // The profile alone: no system level.
        let p = inv.resolve_profile("web").unwrap();
        assert_eq!(
            p.boot.command_line(),
            "console=ttyS0,115200 priority=critical splash"
        );
        assert!(!p.vars.contains_key("root_password_hash"));
    }

    #[test]
    fn a_system_without_a_profile_is_a_reservation() {
        let inv = file::parse(TEXT, None).unwrap();
        let r = inv.resolve("printer").unwrap();
        assert_eq!(r.boot, None);
        assert_eq!(r.netboot.value, Netboot::Never);
    }

    #[test]
    fn lookups_find_a_machine_by_any_of_its_names() {
        let inv = file::parse(TEXT, None).unwrap();
        let (s, i) = inv
            .system_by_mac([0x52, 0x54, 0, 0x12, 0x34, 0x56])
            .unwrap();
        assert_eq!(
            (s.name.as_str(), i.mac.to_string().as_str()),
            ("web1", "52:54:00:12:34:56")
        );
        assert!(inv.system_by_mac([0; 6]).is_none());
        let mut inv = inv;
        let uuid: Uuid = "4c4c4544-0042-3510-8052-b4c04f4b4d32".parse().unwrap();
        inv.systems[1].uuid = Some(uuid);
        assert_eq!(inv.system_by_uuid(&uuid).unwrap().name, "printer");
        assert_eq!(
            inv.system_by_client_uuid(uuid.swapped().0).unwrap().name,
            "printer"
        );
        assert_eq!(inv.users_of_profile("base"), ["profile web"]);
        assert_eq!(inv.users_of_distro("deb"), ["profile base"]);
        assert!(inv.resolve("nosuch").is_err());
    }
}
