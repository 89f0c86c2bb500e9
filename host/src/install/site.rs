//! The answers rendered per request: over HTTP (the [`Dynamic`] of the
//! HTTP service) iPXE scripts, GRUB and pxelinux configs and answer files;
//! over TFTP (the [`DynamicFiles`] of the TFTP engine, for names its root
//! does not have) GRUB and pxelinux configs and `boot.ipxe`.

use std::net::IpAddr;
use std::sync::Arc;

use awl_core::boot::{target, Netboot as CoreNetboot, Target};
use awl_core::ipxe::{self, Platform};
use awl_core::tftp::FileError;
use tracing::{debug, info, warn};

use super::context::{profile_context, system_context, template_of, Server};
use crate::http::query::Query;
use crate::http::{Dynamic, Method, Reply, Request};
use crate::inventory::model::{Inventory, Mac, Netboot, System, UnknownAction, Uuid};
use crate::inventory::store::InventoryCache;
use crate::lifecycle::{self, State, StateFile};
use crate::render::{
    names, parse_boot_config_path, ConfigKey, Family, Loader, MenuContext, MenuEntry,
    RenderContext, Renderer,
};
use crate::tftp::DynamicFiles;

const TEXT: &str = "text/plain; charset=utf-8";

/// Boot scripts, boot configs and answer files from the inventory.
pub struct InstallSite {
    cache: Arc<InventoryCache>,
    renderer: Arc<Renderer>,
    server: Server,
    /// The install states (none: no lifecycle, no tokens, as before).
    states: Option<StateFile>,
    /// The DHCP lease journal, for `answer_auth = "mac-ip"`.
    lease_file: Option<std::path::PathBuf>,
}

/// What the lifecycle says about answering a known system now.
struct Plan {
    target: Target,
    /// Its armed token, for an install.
    token: Option<String>,
}

/// What an install's callback reports (`status=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    /// The install is done (an installer's last step, an image's first
    /// boot).
    Done,
    /// awl's deploy environment wrote and checked the image.
    Written,
    /// The installer failed.
    Failed,
}

/// Who a boot-script request is for.
enum Asker<'i> {
    System(&'i System, Option<[u8; 6]>),
    Unknown,
}

impl InstallSite {
    /// Answers from `cache`'s inventory, rendered by `renderer`, with URLs
    /// on `server`.
    pub fn new(cache: Arc<InventoryCache>, renderer: Arc<Renderer>, server: Server) -> Self {
        Self {
            cache,
            renderer,
            server,
            states: None,
            lease_file: None,
        }
    }

    /// With the DHCP lease journal: a system whose variable `answer_auth`
    /// is `mac-ip` may fetch its answer file without its token, from the
    /// address its MAC holds.
    pub fn with_leases(mut self, lease_file: std::path::PathBuf) -> Self {
        self.lease_file = Some(lease_file);
        self
    }

    /// Whether `system` opted in to `answer_auth = "mac-ip"` and `peer`
    /// asking with `?mac=M` passes it.
    fn opted_in(
        &self,
        inventory: &Inventory,
        system: &System,
        query: &Query,
        peer: IpAddr,
    ) -> bool {
        let opted = system_context(inventory, system, None, &self.server, None)
            .ok()
            .is_some_and(|ctx| {
                ctx.vars.get("answer_auth").and_then(|v| v.as_str()) == Some("mac-ip")
            });
        let passed = opted && self.mac_and_ip_match(system, query, peer);
        if passed {
            info!(
                "http: answer file for system {} without its token: mac and address match ({peer})",
                system.name
            );
        }
        passed
    }

    /// Whether `peer` asking with `?mac=M` is `system` by MAC and address
    /// together: M is one of its interfaces, and `peer` is that
    /// interface's fixed address or the address leased to M.
    fn mac_and_ip_match(&self, system: &System, query: &Query, peer: IpAddr) -> bool {
        let Some(mac) = query.get("mac").and_then(|m| m.parse::<Mac>().ok()) else {
            return false;
        };
        let Some(interface) = system.interfaces.iter().find(|i| i.mac == mac) else {
            return false;
        };
        let IpAddr::V4(peer) = peer else {
            return false;
        };
        if let Some(fixed) = interface.ip {
            return fixed == peer;
        }
        let now = lifecycle::now();
        self.lease_file.as_deref().is_some_and(|file| {
            crate::dhcp::leases::load(file)
                .iter()
                .any(|l| l.mac == mac.0 && l.ip == peer && l.expires > now)
        })
    }

    /// With the install lifecycle kept in `states` (docs/lifecycle.md).
    pub fn with_states(mut self, states: StateFile) -> Self {
        self.states = Some(states);
        self
    }

    /// Whether `system` installs or boots from disk now, recorded in the
    /// state file (an install is armed with a new token when it has none).
    /// `what` names the answer for the events (`ipxe`, `grub`…).
    fn plan(&self, inventory: &Inventory, system: &System, what: &str) -> Plan {
        let netboot = match system.netboot() {
            Netboot::Always => CoreNetboot::Always,
            Netboot::Once => CoreNetboot::Once,
            Netboot::Never => CoreNetboot::Never,
        };
        let Some(states) = &self.states else {
            let target = if system.profile.is_none() {
                Target::Local
            } else {
                target(netboot, false)
            };
            return Plan {
                target,
                token: None,
            };
        };
        let timeout = system_context(inventory, system, None, &self.server, None)
            .ok()
            .and_then(|ctx| {
                ctx.vars
                    .get("install_timeout_minutes")
                    .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
            })
            .filter(|m| m.is_finite() && *m > 0.0)
            .unwrap_or(lifecycle::DEFAULT_TIMEOUT_MINUTES as f64);
        let now = lifecycle::now();
        // Decided under the state file's lock, so a `reinstall` is never
        // half seen.
        let result = states.update(&system.name, |slot| {
            let record = lifecycle::record(slot, now);
            let state = record.effective(now);
            if state == State::FirstBoot {
                // Its image is written and its first boot has yet to
                // report: its disk, whatever its netboot (an `always`
                // machine would otherwise write its image forever).
                record.note(now, format!("{what}: boot from disk (first boot)"));
                return Ok(None);
            }
            if system.profile.is_none() || target(netboot, record.disk_ready(now)) == Target::Local
            {
                record.enter(State::Local, now, format!("{what}: boot from disk"));
                return Ok(None);
            }
            // A new token for a new install, and for one that failed (a
            // timed-out token may have been left on a disk).
            if record.token.is_none() || state == State::Failed {
                record.arm(now, &format!("netboot {}", system.netboot().as_str()))?;
            }
            record.set_timeout(timeout);
            record.enter(State::Booting, now, format!("{what}: install served"));
            Ok(record.token.clone())
        });
        match result {
            Ok(Some(token)) => Plan {
                target: Target::Install,
                token: Some(token),
            },
            Ok(None) => Plan {
                target: Target::Local,
                token: None,
            },
            Err(e) => {
                // Unreadable or unwritable: never risk an install loop.
                warn!(
                    "lifecycle: system {}: {e:#}; it boots from its disk",
                    system.name
                );
                Plan {
                    target: Target::Local,
                    token: None,
                }
            }
        }
    }

    /// `POST /callback/NAME?token=T[&status=done|written|failed]`: the
    /// installer reports its install done (or failed); awl's deploy
    /// environment reports an image written (`firstboot`: the machine
    /// boots its disk, whose first boot reports done). Only the armed
    /// token of a system that is installing (or in its first boot) moves
    /// it, and done and failed revoke the token; the state is synced
    /// before the answer.
    fn callback(&self, request: &Request<'_>, inventory: &Inventory, name: &str) -> Reply {
        if request.method != Method::Post {
            let mut reply = Reply::new(405, TEXT, "405 Method Not Allowed: POST only\n");
            reply.headers.push(("Allow".into(), "POST".into()));
            return reply;
        }
        let Some(states) = &self.states else {
            return not_found("no install lifecycle");
        };
        let Some(system) = inventory.system(name) else {
            return not_found(&format!("no system is named {name}"));
        };
        let is_image = inventory
            .resolve_system(system)
            .ok()
            .and_then(|r| r.boot)
            .is_some_and(|b| b.family == crate::inventory::Family::Image);
        let query = Query::parse(request.query.unwrap_or(""));
        let token = query.get("token").unwrap_or("");
        let report = match query.get("status") {
            None | Some("done" | "ok") => Report::Done,
            Some("failed") => Report::Failed,
            Some("written") => Report::Written,
            Some(_) => {
                return Reply::new(400, TEXT, "400 status: done, written or failed\n");
            }
        };
        let now = lifecycle::now();
        let result = states.update(name, |slot| {
            let Some(record) = slot.as_mut() else {
                return Ok(Err((404, "no install is armed")));
            };
            if !record.token_matches(token) {
                return Ok(Err((403, "wrong or revoked token")));
            }
            // Written: only from an image's deploy; done and failed also
            // from its first boot. The state as written, not as the
            // timeout sees it: a late report still counts.
            let state = record.state;
            let allowed = match report {
                Report::Written => state == State::Installing && is_image,
                Report::Done | Report::Failed => {
                    matches!(state, State::Installing | State::FirstBoot)
                }
            };
            if !allowed {
                return Ok(Err((403, "this system is not installing")));
            }
            match report {
                Report::Failed => {
                    record.token = None;
                    record.enter(
                        State::Failed,
                        now,
                        "callback: the installer reported a failure",
                    );
                }
                Report::Written => record.enter(
                    State::FirstBoot,
                    now,
                    "callback: image written and checked; first boot from disk",
                ),
                Report::Done => {
                    record.token = None;
                    record.installed_at = Some(now);
                    let what = if state == State::FirstBoot {
                        "callback: first boot reported; install done"
                    } else {
                        "callback: install done"
                    };
                    record.enter(State::Installed, now, what);
                }
            }
            Ok(Ok(()))
        });
        match result {
            Ok(Ok(())) if report == Report::Failed => {
                warn!(
                    "http: callback from {}: system {name}: the installer reported a failure",
                    request.peer
                );
                Reply::new(200, TEXT, "failed\n")
            }
            Ok(Ok(())) if report == Report::Written => {
                info!(
                    "http: callback from {}: system {name}: image written; it boots from its disk",
                    request.peer
                );
                Reply::new(200, TEXT, "written\n")
            }
            Ok(Ok(())) => {
                info!(
                    "http: callback from {}: system {name} installed",
                    request.peer
                );
                Reply::new(200, TEXT, "installed\n")
            }
            Ok(Err((status, why))) => {
                info!(
                    "http: callback from {} for system {name} refused: {why}",
                    request.peer
                );
                Reply::new(status, TEXT, format!("{status} {why}\n"))
            }
            Err(e) => {
                warn!("http: callback for system {name}: {e:#}");
                Reply::new(503, TEXT, "503 the state cannot be saved\n")
            }
        }
    }

    /// `/ipxe?mac=…&uuid=…&platform=…` (or `profile=…`, from the menu).
    fn ipxe(&self, inventory: &Inventory, query: &Query) -> Reply {
        let platform = Platform::from_ipxe(query.get("platform").unwrap_or("efi"));
        let mac = query.get("mac").and_then(|m| m.parse::<Mac>().ok());
        let who = mac.map_or_else(|| "-".to_string(), |m| m.to_string());
        if let Some(profile) = query.get("profile") {
            return match profile_context(inventory, profile, &self.server) {
                Ok(ctx) => {
                    info!("http: ipxe for {who}: install profile {profile} (chosen from the menu)");
                    script(|o| install_script(o, &ctx, profile))
                }
                Err(e) => not_found(&format!("profile {profile}: {e}")),
            };
        }
        let asker = mac
            .and_then(|m| {
                inventory
                    .system_by_mac(m.0)
                    .map(|(s, _)| Asker::System(s, Some(m.0)))
            })
            .or_else(|| {
                let uuid = query.get("uuid")?.parse::<Uuid>().ok()?;
                inventory
                    .system_by_client_uuid(uuid.0)
                    .map(|s| Asker::System(s, mac.map(|m| m.0)))
            })
            .unwrap_or(Asker::Unknown);
        match asker {
            Asker::System(system, _) if as_unknown(system) => {
                info!(
                    "http: ipxe for {who}: system {} has no profile (netboot {}): answered as an unknown machine",
                    system.name,
                    system.netboot().as_str()
                );
                self.unknown_ipxe(inventory, &who, platform, query)
            }
            Asker::System(system, boot_mac) => {
                let plan = self.plan(inventory, system, "ipxe");
                if plan.target == Target::Local {
                    info!(
                        "http: ipxe for {who}: system {} boots from its disk (netboot {})",
                        system.name,
                        system.netboot().as_str()
                    );
                    return script(|o| ipxe::write_local(o, platform));
                }
                match system_context(
                    inventory,
                    system,
                    boot_mac,
                    &self.server,
                    plan.token.as_deref(),
                ) {
                    Ok(ctx) => {
                        info!(
                            "http: ipxe for {who}: system {} installs profile {}",
                            system.name, ctx.profile
                        );
                        script(|o| install_script(o, &ctx, &system.name))
                    }
                    Err(e) => {
                        warn!("http: ipxe for {who}: system {}: {e}", system.name);
                        script(|o| ipxe::write_local(o, platform))
                    }
                }
            }
            Asker::Unknown => self.unknown_ipxe(inventory, &who, platform, query),
        }
    }

    fn unknown_ipxe(
        &self,
        inventory: &Inventory,
        who: &str,
        platform: Platform,
        query: &Query,
    ) -> Reply {
        match inventory.unknown.action {
            UnknownAction::Ignore => {
                info!(
                    "http: ipxe for {who}: unknown machine, no answer ([unknown] action = ignore)"
                );
                not_found("unknown machine")
            }
            UnknownAction::DefaultProfile => {
                let profile = inventory.unknown.profile.as_deref().unwrap_or_default();
                match profile_context(inventory, profile, &self.server) {
                    Ok(ctx) => {
                        info!("http: ipxe for {who}: unknown machine installs the default profile {profile}");
                        script(|o| install_script(o, &ctx, profile))
                    }
                    Err(e) => {
                        warn!("http: ipxe for {who}: default profile {profile}: {e}");
                        script(|o| ipxe::write_local(o, platform))
                    }
                }
            }
            UnknownAction::Menu => {
                info!("http: ipxe for {who}: unknown machine gets the menu");
                let platform_arg = query.get("platform").unwrap_or("efi");
                let urls: Vec<(String, String)> = inventory
                    .profiles
                    .iter()
                    .map(|p| {
                        (
                            p.name.clone(),
                            format!(
                                "{}/ipxe?profile={}&platform={platform_arg}",
                                self.server.http_base, p.name
                            ),
                        )
                    })
                    .collect();
                let items: Vec<ipxe::MenuItem<'_>> = urls
                    .iter()
                    .map(|(name, url)| ipxe::MenuItem {
                        id: name,
                        label: name,
                        url,
                    })
                    .collect();
                script(|o| ipxe::write_menu(o, "awl: choose an install", &items, platform, 10_000))
            }
        }
    }

    /// `/answer/system/NAME[/FILE]`, `/answer/profile/NAME[/FILE]`.
    /// A system's answer file needs its armed token (`?token=T`, or
    /// `…/token/T/FILE` for NoCloud), when it has one.
    fn answer(&self, inventory: &Inventory, rest: &str, query: &Query, peer: IpAddr) -> Reply {
        let mut parts = rest.splitn(3, '/');
        let (kind, name, mut file) = (parts.next(), parts.next(), parts.next());
        let mut token = query.get("token");
        if let Some(tail) = file.and_then(|f| f.strip_prefix("token/")) {
            let (t, f) = tail.split_once('/').unwrap_or((tail, ""));
            token = Some(t);
            file = Some(f);
        }
        let mut armed = None;
        let ctx = match (kind, name) {
            (Some("system"), Some(name)) => match inventory.system(name) {
                Some(system) => {
                    if let Some(states) = &self.states {
                        let record = match states.get(name) {
                            Ok(record) => record,
                            Err(e) => {
                                warn!("lifecycle: {e:#}");
                                return Reply::new(503, TEXT, "503 no install state\n");
                            }
                        };
                        // Once a system has install state, only its
                        // armed token opens its answer file.
                        if let Some(record) = record {
                            let by_token = token.is_some_and(|t| record.token_matches(t));
                            // MAC and address stand for the token only
                            // while an install is armed and under way.
                            let under_way = record.token.is_some()
                                && record.effective(lifecycle::now()).under_way();
                            let allowed = by_token
                                || (under_way && self.opted_in(inventory, system, query, peer));
                            if !allowed {
                                info!("http: answer file for system {name} refused: no or wrong token");
                                return Reply::new(403, TEXT, "403 Forbidden: install token\n");
                            }
                            armed = record.token;
                        }
                    }
                    system_context(inventory, system, None, &self.server, armed.as_deref())
                }
                None => return not_found(&format!("no system is named {name}")),
            },
            (Some("profile"), Some(name)) => profile_context(inventory, name, &self.server),
            _ => return not_found("no such answer file"),
        };
        let ctx = match ctx {
            Ok(ctx) => ctx,
            Err(e) => return not_found(&e),
        };
        let image = ctx.distro.family == Family::Image;
        let template = match (template_of(inventory, &ctx), file) {
            (_, Some("meta-data")) if image => names::IMAGE_META_DATA.to_string(),
            (_, Some("user-data")) if image => names::IMAGE_USER_DATA.to_string(),
            (_, Some("meta-data")) => names::AUTOINSTALL_META_DATA.to_string(),
            (_, Some("user-data")) => names::AUTOINSTALL_USER_DATA.to_string(),
            (_, Some("vendor-data")) => return Reply::new(200, TEXT, ""),
            (_, Some(other)) if !other.is_empty() => {
                return not_found(&format!("no answer file {other}"))
            }
            (Some(t), _) if t == "autoinstall" => names::AUTOINSTALL_USER_DATA.to_string(),
            (Some(t), _) => t,
            (None, _) => return not_found("this profile has no answer-file template"),
        };
        match self.renderer.render(&template, &ctx) {
            Ok(text) => {
                info!(
                    "http: answer file {template} for {} {}",
                    kind.unwrap_or_default(),
                    name.unwrap_or_default()
                );
                if let (Some(states), Some(token), Some(name)) = (&self.states, &armed, name) {
                    let now = lifecycle::now();
                    let noted = states.update(name, |slot| {
                        // Still the same install (no reinstall since).
                        if let Some(record) = slot.as_mut().filter(|r| r.token_matches(token)) {
                            if record.state == State::FirstBoot {
                                record.note(now, format!("first boot: {template} served"));
                            } else {
                                record.enter(State::Installing, now, "answer file served");
                            }
                        }
                        Ok(())
                    });
                    if let Err(e) = noted {
                        warn!("lifecycle: system {name}: {e:#}");
                    }
                }
                Reply::new(200, TEXT, text)
            }
            Err(e) => {
                warn!("http: answer file for {rest}: {e}");
                Reply::new(500, TEXT, format!("500 template error: {e}\n"))
            }
        }
    }

    /// GRUB's and pxelinux's per-machine configs: a known machine's (its
    /// install, or local boot), the menu for the catch-all name. A MAC or
    /// UUID that names no system is not found, so the loader goes on to its
    /// next name (pxelinux asks by UUID before the MAC, and both loaders
    /// end at the catch-all).
    fn boot_config(&self, inventory: &Inventory, loader: Loader, key: ConfigKey) -> Made {
        let system = match key {
            ConfigKey::Mac(mac) => match inventory.system_by_mac(mac) {
                Some((s, _)) => Some((s, Some(mac))),
                None => return Made::NotFound("no system has this MAC".into()),
            },
            ConfigKey::Uuid(text) => match text
                .parse::<Uuid>()
                .ok()
                .and_then(|u| inventory.system_by_client_uuid(u.0))
            {
                Some(s) => Some((s, None)),
                None => return Made::NotFound("no system has this UUID".into()),
            },
            ConfigKey::IpHex(_) => return Made::NotFound("no config by address".into()),
            ConfigKey::Default => None,
        };
        if let Some((s, _)) = system.filter(|(s, _)| as_unknown(s)) {
            // The loader goes on to its default config: the menu.
            return Made::NotFound(format!(
                "system {} has no profile: answered as an unknown machine",
                s.name
            ));
        }
        let (rendered, what) = match system {
            Some((system, mac)) => {
                let what = match loader {
                    Loader::Grub => "grub",
                    Loader::Pxelinux => "pxelinux",
                };
                let plan = self.plan(inventory, system, what);
                let ctx = (plan.target == Target::Install)
                    .then(|| {
                        system_context(inventory, system, mac, &self.server, plan.token.as_deref())
                            .ok()
                    })
                    .flatten();
                let what = match &ctx {
                    Some(ctx) => format!("system {} installs profile {}", system.name, ctx.profile),
                    None => format!(
                        "system {} boots from its disk (netboot {})",
                        system.name,
                        system.netboot().as_str()
                    ),
                };
                let rendered = match (loader, ctx) {
                    (Loader::Grub, Some(ctx)) => self.renderer.grub_config(&ctx),
                    (Loader::Grub, None) => self.renderer.grub_local(None),
                    (Loader::Pxelinux, Some(ctx)) => self.renderer.pxelinux_config(&ctx),
                    (Loader::Pxelinux, None) => self.renderer.pxelinux_local(None),
                };
                (rendered, what)
            }
            None => {
                let menu = self.menu(inventory);
                let rendered = match loader {
                    Loader::Grub => self.renderer.grub_menu(&menu),
                    Loader::Pxelinux => self.renderer.pxelinux_menu(&menu),
                };
                (rendered, "the menu".to_string())
            }
        };
        match rendered {
            Ok(text) => Made::Text(text, what),
            Err(e) => Made::Error(format!("template error: {e}")),
        }
    }

    /// `boot.ipxe`: the same for every machine, it chains to `/ipxe` with
    /// iPXE's own view of the machine.
    fn chain_script(&self) -> Made {
        let base = format!("{}/ipxe", self.server.http_base);
        let mut text = String::new();
        match ipxe::write_chain(&mut text, &base) {
            Ok(()) => Made::Text(text, "the chain script".into()),
            Err(_) => Made::Error("cannot write the script".into()),
        }
    }

    /// A boot config or `boot.ipxe` as a boot loader names it over TFTP
    /// (`grub/grub.cfg-01-52-54-00-12-34-56`, `pxelinux.cfg/default`,
    /// `boot.ipxe`; a leading `/` is ignored), rendered from the
    /// inventory as it is now; `None` for any other name. `peer` is only
    /// for the log.
    pub fn boot_file(&self, path: &str, peer: IpAddr) -> Option<Result<Vec<u8>, String>> {
        let path = path.trim_start_matches('/');
        let made = if path == "boot.ipxe" {
            self.chain_script()
        } else {
            let config = parse_boot_config_path(path)?;
            self.boot_config(&self.cache.get(), config.loader, config.key)
        };
        match made {
            Made::Text(text, what) => {
                info!("tftp: {path:?} for {peer}: {what} (rendered)");
                Some(Ok(text.into_bytes()))
            }
            Made::NotFound(why) => {
                debug!("tftp: {path:?} for {peer}: not found: {why}");
                None
            }
            Made::Error(e) => {
                warn!("tftp: {path:?} for {peer}: {e}");
                Some(Err(e))
            }
        }
    }

    fn menu(&self, inventory: &Inventory) -> MenuContext {
        let entries: Vec<MenuEntry> = inventory
            .profiles
            .iter()
            .filter_map(|p| profile_context(inventory, &p.name, &self.server).ok())
            .map(|ctx: RenderContext| MenuEntry::from(&ctx))
            .collect();
        MenuContext {
            title: "awl: choose an install".into(),
            timeout_seconds: 10,
            server: profile_server(&self.server),
            entries,
        }
    }
}

/// Whether `system` is answered as an unknown machine is: it has no
/// profile, and netboots all the same (`netboot = "always"`, as a
/// `[[dhcp.host]]` entry does by default).
fn as_unknown(system: &System) -> bool {
    system.profile.is_none() && system.netboot() != Netboot::Never
}

fn profile_server(server: &Server) -> crate::render::ServerCtx {
    server.ctx()
}

impl Dynamic for InstallSite {
    fn respond(&self, request: &Request<'_>) -> Option<Reply> {
        let path = request.path;
        if path == "/boot.ipxe" {
            return Some(self.chain_script().into_reply());
        }
        let query = Query::parse(request.query.unwrap_or(""));
        if path == "/ipxe" {
            return Some(self.ipxe(&self.cache.get(), &query));
        }
        if let Some(rest) = path.strip_prefix("/answer/") {
            return Some(self.answer(&self.cache.get(), rest, &query, request.peer.ip()));
        }
        if let Some(name) = path.strip_prefix("/callback/") {
            return Some(self.callback(request, &self.cache.get(), name));
        }
        if path.starts_with("/boot/") {
            return None; // the TFTP root
        }
        let config = parse_boot_config_path(path.trim_start_matches('/'))?;
        Some(
            self.boot_config(&self.cache.get(), config.loader, config.key)
                .into_reply(),
        )
    }
}

/// What TFTP asks of the install layer: boot configs and `boot.ipxe`
/// ([`InstallSite::boot_file`]), for names the TFTP root does not have.
impl DynamicFiles for InstallSite {
    fn file(&self, path: &str, peer: IpAddr) -> Result<Vec<u8>, FileError> {
        match self.boot_file(path, peer) {
            Some(Ok(bytes)) => Ok(bytes),
            // ERROR 0 with the reason logged: a broken template must not
            // look like a missing file (pxelinux would go on to the menu).
            Some(Err(_)) => Err(FileError::Io),
            None => Err(FileError::NotFound),
        }
    }
}

/// A boot config or script made for one request.
enum Made {
    /// The text, and what it does (for the log).
    Text(String, String),
    /// No such file, or not for this machine: the loader asks for its next
    /// name.
    NotFound(String),
    /// It could not be made (a template error).
    Error(String),
}

impl Made {
    fn into_reply(self) -> Reply {
        match self {
            Self::Text(text, _) => Reply::new(200, TEXT, text),
            Self::NotFound(why) => not_found(&why),
            Self::Error(e) => Reply::new(500, TEXT, format!("500 {e}\n")),
        }
    }
}

/// The installer's kernel, initrds and command line for `ctx`.
fn install_script(out: &mut String, ctx: &RenderContext, name: &str) -> std::fmt::Result {
    let initrds: Vec<&str> = ctx.urls.initrds.iter().map(String::as_str).collect();
    ipxe::write_install(
        out,
        &ipxe::Install {
            name,
            kernel: &ctx.urls.kernel,
            initrds: &initrds,
            args: &ctx.kernel_args,
        },
    )
}

fn script(write: impl FnOnce(&mut String) -> std::fmt::Result) -> Reply {
    let mut text = String::new();
    match write(&mut text) {
        Ok(()) => Reply::new(200, TEXT, text),
        Err(_) => Reply::new(500, TEXT, "500 cannot write the script\n"),
    }
}

fn not_found(why: &str) -> Reply {
    Reply::new(404, TEXT, format!("404 Not Found: {why}\n"))
}
