//! From the inventory's merged view to what templates read
//! ([`RenderContext`]): URLs on this server, the installer's arguments,
//! variables as JSON values.

use std::net::Ipv4Addr;

use crate::inventory::model::{Inventory, System};
use crate::inventory::resolve::{Boot, Sourced};
use crate::render::{
    installer_kernel_args, DistroCtx, Family, InterfaceCtx, RenderContext, ServerCtx, SystemCtx,
    Vars,
};

/// This server, as booting machines reach it.
#[derive(Debug, Clone)]
pub struct Server {
    /// Its address on the machines' network.
    pub ip: Ipv4Addr,
    /// The base of its HTTP URLs, without a trailing `/`
    /// (`http://10.0.0.1:8080`).
    pub http_base: String,
    /// The port installers send their syslog to, when awl receives it.
    pub syslog_port: Option<u16>,
    /// The files root (the TFTP root, `/boot/` over HTTP): where an
    /// image's size is read.
    pub files_root: Option<std::path::PathBuf>,
}

impl Server {
    pub(crate) fn ctx(&self) -> ServerCtx {
        ServerCtx {
            ip: self.ip.to_string(),
            http_base: self.http_base.clone(),
            tftp: self.ip.to_string(),
            syslog: self
                .syslog_port
                .map(|port| format!("{}:{port}", self.ip))
                .unwrap_or_default(),
        }
    }

    /// The size of a file under the files root (`None` for a URL, or a
    /// file that is not there).
    pub(crate) fn file_size(&self, file: &str) -> Option<u64> {
        if file.contains("://") {
            return None;
        }
        let path = self.files_root.as_ref()?.join(file.trim_start_matches('/'));
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    /// A kernel or initrd as the machine fetches it: a URL as written, a
    /// path from the TFTP root under `/boot/`.
    pub(crate) fn file_url(&self, file: &str) -> String {
        if file.contains("://") {
            file.to_string()
        } else {
            format!("{}/boot/{}", self.http_base, file.trim_start_matches('/'))
        }
    }
}

/// Which answer file a system or profile gets, and where.
pub(crate) enum AnswerOf<'a> {
    /// A system, with its install token when one is armed.
    System(&'a str, Option<&'a str>),
    Profile(&'a str),
}

impl AnswerOf<'_> {
    /// `SERVER/answer/KIND/NAME` and the token.
    fn base(&self, server: &Server) -> (String, Option<&str>) {
        let (kind, name, token) = match self {
            Self::System(n, t) => ("system", n, *t),
            Self::Profile(n) => ("profile", n, None),
        };
        (format!("{}/answer/{kind}/{name}", server.http_base), token)
    }

    fn url(&self, server: &Server, family: Family) -> String {
        if family == Family::Ubuntu {
            return self.nocloud(server);
        }
        match self.base(server) {
            (base, Some(t)) => format!("{base}?token={t}"),
            (base, None) => base,
        }
    }

    /// The NoCloud seed folder: cloud-init appends `user-data` and
    /// `meta-data` to it, so its token goes in the path
    /// (`…/token/T/user-data`).
    fn nocloud(&self, server: &Server) -> String {
        match self.base(server) {
            (base, Some(t)) => format!("{base}/token/{t}/"),
            (base, None) => format!("{base}/"),
        }
    }
}

fn family(boot: &Boot) -> Family {
    boot.family.as_str().parse().unwrap_or(Family::Generic)
}

fn vars(merged: &std::collections::BTreeMap<String, Sourced<toml::Value>>) -> Vars {
    merged
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(&v.value).ok()?)))
        .collect()
}

fn boot_context(boot: &Boot, answer: AnswerOf<'_>, server: &Server) -> RenderContext {
    let family = family(boot);
    RenderContext {
        system: None,
        profile: boot.profiles.last().cloned().unwrap_or_default(),
        distro: DistroCtx {
            name: boot.distro.clone(),
            family,
            arch: boot.arch.as_str().to_string(),
            tree: boot.tree.clone().unwrap_or_default(),
            kernel: boot.kernel.clone(),
            initrds: boot.initrd.clone(),
            image: boot.image.clone().unwrap_or_default(),
            image_sha256: boot.image_sha256.clone().unwrap_or_default(),
            image_size: boot
                .image
                .as_deref()
                .and_then(|i| server.file_size(i))
                .unwrap_or(0),
        },
        kernel_args: boot.command_line(),
        vars: Vars::new(),
        secrets: Vars::new(),
        server: server.ctx(),
        urls: crate::render::UrlsCtx {
            answer_file: answer.url(server, family),
            callback: None,
            tree: boot.tree.clone().unwrap_or_default(),
            kernel: server.file_url(&boot.kernel),
            initrds: boot.initrd.iter().map(|i| server.file_url(i)).collect(),
            image: boot
                .image
                .as_deref()
                .map(|i| server.file_url(i))
                .unwrap_or_default(),
            nocloud: answer.nocloud(server),
        },
    }
}

/// Appends the installer's own arguments (where its answer file is) to the
/// merged command line, once the context knows the machine.
fn finish(mut ctx: RenderContext) -> RenderContext {
    let installer = installer_kernel_args(&ctx);
    if !installer.is_empty() {
        if !ctx.kernel_args.is_empty() {
            ctx.kernel_args.push(' ');
        }
        ctx.kernel_args.push_str(&installer);
    }
    ctx
}

/// What templates see for `system` booting from `boot_mac` (its first
/// interface when `None`), with its install `token` (in its answer-file
/// and callback URLs) when one is armed. `Err` for a system without a
/// profile.
pub(crate) fn system_context(
    inventory: &Inventory,
    system: &System,
    boot_mac: Option<[u8; 6]>,
    server: &Server,
    token: Option<&str>,
) -> Result<RenderContext, String> {
    let resolved = inventory.resolve_system(system)?;
    let boot = resolved
        .boot
        .as_ref()
        .ok_or_else(|| format!("system {} has no profile", system.name))?;
    let mut ctx = boot_context(boot, AnswerOf::System(&system.name, token), server);
    ctx.urls.callback =
        token.map(|t| format!("{}/callback/{}?token={t}", server.http_base, system.name));
    let mut interfaces: Vec<InterfaceCtx> = resolved
        .interfaces
        .iter()
        .map(|i| InterfaceCtx {
            mac: i.mac.to_string(),
            ip: i.ip.map(|ip| ip.to_string()),
            hostname: i.hostname.clone(),
        })
        .collect();
    // The boot interface first.
    if let Some(mac) = boot_mac {
        let text = crate::inventory::model::Mac(mac).to_string();
        if let Some(at) = interfaces.iter().position(|i| i.mac == text) {
            let first = interfaces.remove(at);
            interfaces.insert(0, first);
        }
    }
    let first = interfaces.first().cloned().unwrap_or_default();
    ctx.system = Some(SystemCtx {
        name: system.name.clone(),
        hostname: first
            .hostname
            .clone()
            .or(system.hostname().map(str::to_string)),
        mac: first.mac.clone(),
        macs: interfaces.iter().map(|i| i.mac.clone()).collect(),
        ip: first.ip.clone(),
        interfaces,
        uuid: resolved.uuid.map(|u| u.to_string()),
    });
    ctx.vars = vars(&resolved.vars);
    ctx.secrets = resolved
        .secrets
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
        .collect();
    Ok(finish(ctx))
}

/// What templates see for an unknown machine given `profile`.
pub(crate) fn profile_context(
    inventory: &Inventory,
    profile: &str,
    server: &Server,
) -> Result<RenderContext, String> {
    let resolved = inventory.resolve_profile(profile)?;
    let mut ctx = boot_context(&resolved.boot, AnswerOf::Profile(profile), server);
    ctx.vars = vars(&resolved.vars);
    Ok(finish(ctx))
}

/// The answer-file template for a boot: the nearest profile's, else the
/// family's built-in.
pub(crate) fn template_of(inventory: &Inventory, ctx: &RenderContext) -> Option<String> {
    let chain = inventory.profile_chain(&ctx.profile).ok()?;
    chain
        .iter()
        .rev()
        .find_map(|p| p.template.clone())
        .or_else(|| ctx.distro.family.default_template().map(str::to_string))
}
