//! What a template sees: one plain, serializable value per request.
//!
//! [`RenderContext`] is the only input of rendering. The inventory builds
//! one for the machine that asks (its system, profile, distro, merged
//! variables, its own secrets, the URLs it should use) and hands it to
//! [`Renderer`](super::Renderer); nothing else reaches a template, so a
//! machine's secrets can only appear in that machine's answers.
//!
//! Every field is documented as templates see it (`system.hostname`,
//! `urls.callback`, ...); `docs/templates.md` has the same table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Variables and secrets: free-form values (strings, numbers, lists, maps).
pub type Vars = BTreeMap<String, serde_json::Value>;

/// Everything a template can read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderContext {
    /// The machine asking; `None` for an unknown machine that got a
    /// profile (the default profile, or one picked from a menu).
    pub system: Option<SystemCtx>,
    /// The profile's name.
    pub profile: String,
    /// The profile's distro.
    pub distro: DistroCtx,
    /// The kernel command line, merged (distro, profile, system) and ready
    /// to use as it is.
    pub kernel_args: String,
    /// Variables merged from distro, profile and system (the system wins).
    /// Built-in templates read a few (see `docs/templates.md`); user
    /// templates may read any.
    pub vars: Vars,
    /// This system's secrets, and no other's: `root_password_hash`,
    /// `user_password_hash` (crypt(3) strings), `ssh_authorized_keys` (a
    /// list of public-key lines), or anything a user template reads.
    pub secrets: Vars,
    /// Where this server is.
    pub server: ServerCtx,
    /// The URLs this machine should use.
    pub urls: UrlsCtx,
}

/// A machine from the inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemCtx {
    /// Its name in the inventory.
    pub name: String,
    /// Its host name (may be fully qualified), when it has one.
    pub hostname: Option<String>,
    /// The MAC address it booted from, `aa:bb:cc:dd:ee:ff` (lower case).
    pub mac: String,
    /// All its MAC addresses, the boot one first.
    pub macs: Vec<String>,
    /// Its fixed address, when it has one.
    pub ip: Option<String>,
    /// Its network interfaces (the boot one first).
    pub interfaces: Vec<InterfaceCtx>,
    /// Its SMBIOS UUID (DHCP option 97), when known.
    pub uuid: Option<String>,
}

/// One network interface of a system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterfaceCtx {
    /// `aa:bb:cc:dd:ee:ff`, lower case.
    pub mac: String,
    /// Its fixed address, when it has one.
    pub ip: Option<String>,
    /// Its own host name, when it has one.
    pub hostname: Option<String>,
}

/// The OS family of a distro: which answer-file language its installer
/// reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Anaconda: Red Hat, Fedora, CentOS, Rocky, Alma (kickstart).
    Redhat,
    /// debian-installer (preseed).
    Debian,
    /// Ubuntu 20.04 and later: subiquity (autoinstall); older releases use
    /// preseed.
    Ubuntu,
    /// SUSE (AutoYaST; no built-in template yet).
    Suse,
    /// A disk image written by awl's deploy environment, then set up at
    /// its first boot by cloud-init (NoCloud, from awl).
    Image,
    /// Anything else.
    #[default]
    Generic,
}

impl Family {
    /// Its name as templates see it (`distro.family`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redhat => "redhat",
            Self::Debian => "debian",
            Self::Ubuntu => "ubuntu",
            Self::Suse => "suse",
            Self::Image => "image",
            Self::Generic => "generic",
        }
    }

    /// The built-in answer template for the family, if there is one.
    pub fn default_template(self) -> Option<&'static str> {
        match self {
            Self::Redhat => Some(super::names::KICKSTART),
            Self::Debian => Some(super::names::PRESEED),
            Self::Ubuntu => Some(super::names::AUTOINSTALL_USER_DATA),
            Self::Image => Some(super::names::IMAGE_DEPLOY),
            Self::Suse | Self::Generic => None,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Family {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "redhat" => Self::Redhat,
            "debian" => Self::Debian,
            "ubuntu" => Self::Ubuntu,
            "suse" => Self::Suse,
            "image" => Self::Image,
            "generic" => Self::Generic,
            _ => {
                return Err(format!(
                    "{text}: a family is redhat, debian, ubuntu, suse, image or generic"
                ))
            }
        })
    }
}

/// A distro: what boots and where it installs from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistroCtx {
    /// Its name in the inventory.
    pub name: String,
    /// Its OS family.
    pub family: Family,
    /// Its architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// The install tree URL (`http://mirror/rocky/9/BaseOS/x86_64/os/`;
    /// for Ubuntu's live installer, the ISO's URL).
    pub tree: String,
    /// The kernel's path under the TFTP root (`distros/rocky9/vmlinuz`).
    pub kernel: String,
    /// The initrds' paths under the TFTP root, in load order.
    pub initrds: Vec<String>,
    /// Family image: the disk image (a path under the files root or a
    /// URL); empty otherwise.
    #[serde(default)]
    pub image: String,
    /// Family image: the image's SHA-256 (hex).
    #[serde(default)]
    pub image_sha256: String,
    /// Family image: its size in bytes when awl serves it from its files
    /// root (0: unknown, a URL).
    #[serde(default)]
    pub image_size: u64,
}

/// This server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCtx {
    /// Its address as the machine reaches it.
    pub ip: String,
    /// The base of its HTTP URLs, without a trailing slash
    /// (`http://10.0.0.1:8080`).
    pub http_base: String,
    /// The TFTP server's address (usually `ip`).
    pub tftp: String,
    /// Where installers send their syslog (`IP:PORT`), or empty.
    #[serde(default)]
    pub syslog: String,
}

/// The URLs a machine uses, complete (tokens included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UrlsCtx {
    /// This machine's answer file. For autoinstall, the NoCloud seed
    /// directory, ending in `/` (the installer appends `user-data` and
    /// `meta-data`).
    pub answer_file: String,
    /// Where the installed machine reports back, with its token when the
    /// install is armed; `None`: no callback.
    pub callback: Option<String>,
    /// The install tree (usually `distro.tree`).
    pub tree: String,
    /// The kernel over HTTP; empty: TFTP only (`distro.kernel`).
    pub kernel: String,
    /// The initrds over HTTP, in load order.
    pub initrds: Vec<String>,
    /// Family image: the disk image over HTTP.
    #[serde(default)]
    pub image: String,
    /// This machine's NoCloud seed (a folder ending in `/`, with its
    /// token: cloud-init appends `user-data` and `meta-data`); empty for
    /// a profile's answers.
    #[serde(default)]
    pub nocloud: String,
}

impl RenderContext {
    /// The host name templates use: the system's `hostname`, else its
    /// name, else `vars.hostname`; `None` when there is none.
    pub fn hostname(&self) -> Option<&str> {
        let from_system = self.system.as_ref().and_then(|s| {
            s.hostname
                .as_deref()
                .filter(|h| !h.is_empty())
                .or(Some(s.name.as_str()).filter(|n| !n.is_empty()))
        });
        from_system.or_else(|| self.vars.get("hostname").and_then(|v| v.as_str()))
    }

    /// A realistic context for checking templates and for tests: a system
    /// with two interfaces, secrets and variables, a Rocky Linux 9 distro.
    pub fn sample() -> Self {
        let mac = "52:54:00:12:34:56";
        let second = "52:54:00:ab:cd:ef";
        Self {
            system: Some(SystemCtx {
                name: "web01".into(),
                hostname: Some("web01.lab.example".into()),
                mac: mac.into(),
                macs: vec![mac.into(), second.into()],
                ip: Some("10.0.0.21".into()),
                interfaces: vec![
                    InterfaceCtx {
                        mac: mac.into(),
                        ip: Some("10.0.0.21".into()),
                        hostname: Some("web01.lab.example".into()),
                    },
                    InterfaceCtx {
                        mac: second.into(),
                        ip: None,
                        hostname: None,
                    },
                ],
                uuid: Some("4c4c4544-0042-3510-8052-b4c04f4e3732".into()),
            }),
            profile: "rocky9-web".into(),
            distro: DistroCtx {
                name: "rocky9".into(),
                family: Family::Redhat,
                arch: "x86_64".into(),
                tree: "http://10.0.0.1:8080/trees/rocky9/".into(),
                kernel: "distros/rocky9/vmlinuz".into(),
                initrds: vec!["distros/rocky9/initrd.img".into()],
                image: String::new(),
                image_sha256: String::new(),
                image_size: 0,
            },
            kernel_args: "inst.ks=http://10.0.0.1:8080/answer/web01 console=ttyS0,115200n8".into(),
            vars: [
                ("timezone", serde_json::json!("Europe/Paris")),
                ("packages", serde_json::json!(["vim-enhanced", "curl"])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            secrets: [
                (
                    "root_password_hash",
                    serde_json::json!(
                        "$6$awlsample$A5r6e13BCQMxjsWXKKaMrBwUclpd/bV8neNgoqqjhpYdDnIUneYMaIetzZL28m/VtLWY86pTZlAfV0SPqxv.n0"
                    ),
                ),
                (
                    "ssh_authorized_keys",
                    serde_json::json!(["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHawlSampleKeyForTestsOnly0000000000000000 admin@lab"]),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            server: ServerCtx {
                ip: "10.0.0.1".into(),
                http_base: "http://10.0.0.1:8080".into(),
                tftp: "10.0.0.1".into(),
                syslog: String::new(),
            },
            urls: UrlsCtx {
                answer_file: "http://10.0.0.1:8080/answer/web01".into(),
                callback: Some("http://10.0.0.1:8080/callback/web01?token=0123456789abcdef0123456789abcdef".into()),
                tree: "http://10.0.0.1:8080/trees/rocky9/".into(),
                kernel: "http://10.0.0.1:8080/boot/distros/rocky9/vmlinuz".into(),
                initrds: vec!["http://10.0.0.1:8080/boot/distros/rocky9/initrd.img".into()],
                image: String::new(),
                nocloud: "http://10.0.0.1:8080/answer/system/web01/token/0123456789abcdef0123456789abcdef/".into(),
            },
        }
    }
}

/// The kernel arguments that point a family's installer at its answer
/// file (`urls.answer_file`) and tree (`urls.tree`), for the inventory to
/// merge into [`RenderContext::kernel_args`]; empty when there is no
/// answer file, and for `generic`.
///
/// * redhat: `inst.ks=ANSWER inst.repo=TREE` (and `inst.syslog=IP:PORT`
///   when awl receives syslog)
/// * debian: `auto=true priority=critical url=ANSWER interface=auto
///   hostname=H domain=D` (the host name must be on the command line: the
///   network is up before the preseed is read), and `log_host=IP
///   log_port=PORT` when awl receives syslog
/// * ubuntu: `ip=dhcp url=TREE cloud-config-url=/dev/null autoinstall
///   ds=nocloud-net;s=ANSWER` (TREE is the live ISO; the `;` needs the
///   GRUB quoting the built-in GRUB templates apply)
/// * suse: `install=TREE autoyast=ANSWER`
/// * image: `awl.deploy=ANSWER quiet` (the deploy environment's
///   configuration; `quiet` keeps the kernel from printing the token), and `log_host=IP log_port=PORT` when awl receives syslog
pub fn installer_kernel_args(ctx: &RenderContext) -> String {
    let answer = ctx.urls.answer_file.as_str();
    let tree = ctx.urls.tree.as_str();
    let mut args: Vec<String> = Vec::new();
    match ctx.distro.family {
        Family::Redhat => {
            args.push(format!("inst.ks={answer}"));
            if !tree.is_empty() {
                args.push(format!("inst.repo={tree}"));
            }
            if !ctx.server.syslog.is_empty() {
                args.push(format!("inst.syslog={}", ctx.server.syslog));
            }
        }
        Family::Debian => {
            args.extend(
                ["auto=true", "priority=critical"]
                    .iter()
                    .map(|s| s.to_string()),
            );
            args.push(format!("url={answer}"));
            args.push("interface=auto".into());
            if let Some(name) = ctx.hostname() {
                let (host, domain) = name.split_once('.').unwrap_or((name, ""));
                args.push(format!("hostname={host}"));
                args.push(format!("domain={domain}"));
            }
            if let Some((host, port)) = ctx.server.syslog.rsplit_once(':') {
                args.push(format!("log_host={host}"));
                args.push(format!("log_port={port}"));
            }
        }
        Family::Ubuntu => {
            args.push("ip=dhcp".into());
            if !tree.is_empty() {
                args.push(format!("url={tree}"));
                args.push("cloud-config-url=/dev/null".into());
            }
            args.push("autoinstall".into());
            args.push(format!("ds=nocloud-net;s={answer}"));
        }
        Family::Suse => {
            if !tree.is_empty() {
                args.push(format!("install={tree}"));
            }
            args.push(format!("autoyast={answer}"));
        }
        Family::Image => {
            args.push(format!("awl.deploy={answer}"));
            // The kernel prints its command line (and so the token) on
            // the console unless quiet; the deploy environment's own
            // progress lines still show.
            args.push("quiet".into());
            if let Some((host, port)) = ctx.server.syslog.rsplit_once(':') {
                args.push(format!("log_host={host}"));
                args.push(format!("log_port={port}"));
            }
        }
        Family::Generic => return String::new(),
    }
    if answer.is_empty() {
        return String::new();
    }
    args.join(" ")
}
