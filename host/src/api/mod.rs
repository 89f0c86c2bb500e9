//! What a person or a program asks a running `awl serve` over HTTP,
//! beside the boot clients' answers:
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the status page: every machine, live (Server-Sent Events) |
//! | `/metrics` | Prometheus counters and gauges |
//! | `/api/v1/...` | the JSON API (`openapi.json` describes it) |
//!
//! Reads are open; writes, and reading systems' secrets, need the bearer
//! token from `STATE_DIR/api-token` ([`auth`]). Errors are
//! `application/problem+json` ([`problem`]). See docs/api.md.

pub mod auth;
pub mod inventory;
pub mod problem;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::events::Events;
use crate::http::query::Query;
use crate::http::{Dynamic, Method, Reply, Request};
use crate::inventory::find::SystemFilter;
use crate::inventory::store::InventoryCache;
use crate::lifecycle::{self, StateFile};
use inventory::{Change, Done, Kind};
use problem::Problem;

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The status page.
const PAGE: &str = include_str!("page.html");

const JSON: &str = "application/json";

/// The API, the page and the metrics, in front of the boot answers.
pub struct Api {
    cache: Arc<InventoryCache>,
    states: StateFile,
    events: Events,
    /// What the event bus counted, for `/metrics`.
    counters: Arc<crate::metrics::Counters>,
    /// The machines `awl serve` discovered (`None`: read from the file).
    discovered: Option<crate::discovery::Discovered>,
    token: String,
    lease_file: Option<PathBuf>,
    started: Instant,
    /// Event streams open now.
    streams: Arc<std::sync::atomic::AtomicUsize>,
    /// Asked for every other path (the boot scripts, answer files).
    next: Arc<dyn Dynamic>,
}

impl Api {
    /// The API over `cache` and `states`, with the token in `states`' folder
    /// (made when missing); `next` answers every other path. `counters`
    /// are what counts `events` ([`Events::counted`]).
    pub fn new(
        cache: Arc<InventoryCache>,
        states: StateFile,
        events: Events,
        counters: Arc<crate::metrics::Counters>,
        discovered: Option<crate::discovery::Discovered>,
        lease_file: Option<PathBuf>,
        next: Arc<dyn Dynamic>,
    ) -> anyhow::Result<Self> {
        let token = auth::load_or_create(states.dir())?;
        Ok(Self {
            cache,
            states,
            events,
            counters,
            discovered,
            token,
            lease_file,
            started: Instant::now(),
            streams: Arc::default(),
            next,
        })
    }

    fn api(&self, request: &Request<'_>, rest: &str) -> Result<Reply, Problem> {
        let authorized = auth::authorized(request, &self.token);
        let reading = matches!(request.method, Method::Get | Method::Head);
        if !reading && !authorized {
            return Err(Problem::new(
                401,
                "writes need Authorization: Bearer TOKEN (the token is in STATE_DIR/api-token)",
            ));
        }
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let show_secrets = query_flag(request.query, "show_secrets");
        if show_secrets && !authorized {
            return Err(Problem::new(
                401,
                "secrets are shown only with the API token",
            ));
        }
        match (request.method, segments.as_slice()) {
            (Method::Get | Method::Head, ["health"]) => Ok(self.health()),
            (Method::Get | Method::Head, ["openapi.json"]) => {
                Ok(Reply::new(200, JSON, OPENAPI).with_header("Cache-Control", "no-cache"))
            }
            (Method::Get | Method::Head, ["status"]) => {
                // `?state=failed,installing`: only systems in those states.
                let query = Query::parse(request.query.unwrap_or(""));
                let wanted = query
                    .get("state")
                    .map(|v| v.split(',').map(lifecycle::State::parse).collect())
                    .transpose()
                    .map_err(|e: String| Problem::new(400, format!("the query: state={e}")))?;
                let mut rows = self.status(None);
                if let (Some(wanted), Some(rows)) = (wanted, rows.as_array_mut()) {
                    let wanted: Vec<lifecycle::State> = wanted;
                    rows.retain(|r| wanted.iter().any(|s| r["state"] == s.as_str()));
                }
                Ok(json_reply(200, &json!(rows)))
            }
            (Method::Get | Method::Head, ["status", name]) => {
                match self.status(Some(name)).as_array().and_then(|a| a.first()) {
                    Some(row) => Ok(json_reply(200, row)),
                    None => Err(Problem::new(404, format!("no system is named {name}"))),
                }
            }
            (Method::Get, ["events"]) => {
                stream::events(&self.events, &self.streams).ok_or_else(|| {
                    Problem::new(
                        503,
                        format!(
                            "{} event streams are open already; try again later",
                            stream::MAX_STREAMS
                        ),
                    )
                })
            }
            (Method::Get | Method::Head, ["leases"]) => Ok(json_reply(200, &self.leases())),
            (Method::Get | Method::Head, ["discovered"]) => {
                Ok(json_reply(200, &json!(self.discovered_rows()?)))
            }
            (Method::Delete, ["discovered", mac]) => self.forget(mac),
            (method, [collection, rest @ ..]) if Kind::from_segment(collection).is_some() => {
                let kind = Kind::from_segment(collection).unwrap_or(Kind::System);
                self.inventory(request, method, kind, rest, show_secrets)
            }
            (Method::Get | Method::Head, _) => Err(Problem::new(
                404,
                format!("no such API path: /api/v1/{rest} (see /api/v1/openapi.json)"),
            )),
            _ => Err(Problem::new(
                405,
                format!("/api/v1/{rest} does not take {:?}", request.method),
            )),
        }
    }

    fn inventory(
        &self,
        request: &Request<'_>,
        method: Method,
        kind: Kind,
        rest: &[&str],
        show_secrets: bool,
    ) -> Result<Reply, Problem> {
        let inventory = self.cache.get();
        match (method, rest) {
            (Method::Get | Method::Head, []) => {
                let query = Query::parse(request.query.unwrap_or(""));
                let filter = match kind {
                    Kind::System => SystemFilter::from_query(&query)
                        .map_err(|e| Problem::new(400, format!("the query: {e}")))?,
                    _ => SystemFilter::default(),
                };
                let list = kind.list(&inventory, show_secrets, &filter);
                Ok(json_reply(200, &Value::Array(list)))
            }
            (Method::Get | Method::Head, [name]) => kind
                .get(&inventory, name, show_secrets)
                .map(|v| json_reply(200, &v))
                .ok_or_else(|| Problem::new(404, format!("no {} is named {name}", kind.table()))),
            (Method::Post, []) => {
                let body = json_body(request)?;
                let name = body
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Problem::new(422, "name: missing (a string)"))?
                    .to_string();
                self.write(kind, &name, Change::Create(body))
            }
            (Method::Put, [name]) => {
                let body = json_body(request)?;
                self.write(kind, name, Change::Replace(body))
            }
            (Method::Patch, [name]) => {
                let body = json_body(request)?;
                self.write(kind, name, Change::Merge(body))
            }
            (Method::Delete, [name]) => self.write(kind, name, Change::Remove),
            (Method::Post, [name, "reinstall"]) if kind == Kind::System => self.reinstall(name),
            (Method::Get | Method::Head, [name, "log"]) if kind == Kind::System => self.log(name),
            _ => Err(Problem::new(405, format!("{:?} is not taken here", method))),
        }
    }

    fn write(&self, kind: Kind, name: &str, change: Change) -> Result<Reply, Problem> {
        let done = inventory::write(&self.cache, kind, name, change)?;
        tracing::info!("api: {} {name}: {done:?}", kind.table());
        let inventory = self.cache.get();
        Ok(match done {
            Done::Removed => Reply::new(204, JSON, ""),
            Done::Created | Done::Changed => {
                let entry = kind.get(&inventory, name, false).unwrap_or(Value::Null);
                let status = if done == Done::Created { 201 } else { 200 };
                json_reply(status, &entry).with_header("Location", kind.location(name))
            }
        })
    }

    fn reinstall(&self, name: &str) -> Result<Reply, Problem> {
        if self.cache.get().system(name).is_none() {
            return Err(Problem::new(404, format!("no system is named {name}")));
        }
        let now = lifecycle::now();
        self.states
            .update(name, |slot| {
                lifecycle::record(slot, now)
                    .arm(now, "api: reinstall")
                    .map(drop)
            })
            .map_err(|e| Problem::new(503, format!("{e:#}")))?;
        tracing::info!("api: system {name}: armed for a new install");
        self.status(Some(name))
            .as_array()
            .and_then(|a| a.first())
            .map(|row| json_reply(200, row))
            .ok_or_else(|| Problem::new(404, format!("no system is named {name}")))
    }

    /// The last 64 KiB of the system's installer log (syslog lines filed
    /// by `--syslog-listen`), whole lines.
    fn log(&self, name: &str) -> Result<Reply, Problem> {
        use std::io::{Read, Seek, SeekFrom};
        if self.cache.get().system(name).is_none() {
            return Err(Problem::new(404, format!("no system is named {name}")));
        }
        let path = crate::syslog::log_path(&self.states.dir().join("logs"), name);
        let mut text = Vec::new();
        match std::fs::File::open(&path) {
            Ok(mut file) => {
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                let from = len.saturating_sub(64 << 10);
                file.seek(SeekFrom::Start(from))
                    .and_then(|_| file.read_to_end(&mut text))
                    .map_err(|e| Problem::new(503, format!("{}: {e}", path.display())))?;
                if from > 0 {
                    let cut = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                    text.drain(..cut);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Problem::new(503, format!("{}: {e}", path.display()))),
        }
        Ok(Reply::new(200, "text/plain; charset=utf-8", text)
            .with_header("Cache-Control", "no-store"))
    }

    fn health(&self) -> Reply {
        let problems = self.cache.problems();
        let states = self.states.load();
        let ok = problems.is_none() && states.is_ok();
        let body = json!({
            "status": if ok { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "inventory": problems.map_or_else(|| "ok".to_string(), |p| format!("the last edit is not in use: {p}")),
            "states": states.map_or_else(|e| format!("{e:#}"), |_| "ok".to_string()),
        });
        json_reply(if ok { 200 } else { 503 }, &body)
    }

    /// Every system of the inventory (and every record of one removed
    /// since), with its MACs, its address and its install state; or only
    /// `name`'s.
    fn status(&self, name: Option<&str>) -> Value {
        let inventory = self.cache.get();
        let installs = self.states.load().unwrap_or_default();
        let now = lifecycle::now();
        let rows = lifecycle::status_rows(&installs, now);
        let leases = self
            .lease_file
            .as_deref()
            .map(crate::dhcp::leases::load)
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut names: Vec<&str> = inventory.systems.iter().map(|s| s.name.as_str()).collect();
        names.extend(
            rows.iter()
                .map(|r| r.system)
                .filter(|n| inventory.system(n).is_none()),
        );
        for system_name in names {
            if name.is_some_and(|n| n != system_name) {
                continue;
            }
            let system = inventory.system(system_name);
            let row = rows.iter().find(|r| r.system == system_name);
            let macs: Vec<String> = system
                .map(|s| s.interfaces.iter().map(|i| i.mac.to_string()).collect())
                .unwrap_or_default();
            let ip = system.and_then(|s| {
                s.interfaces
                    .iter()
                    .find_map(|i| i.ip.map(|ip| ip.to_string()))
                    .or_else(|| {
                        leases
                            .iter()
                            .find(|l| s.interfaces.iter().any(|i| i.mac.0 == l.mac))
                            .map(|l| l.ip.to_string())
                    })
            });
            out.push(json!({
                "system": system_name,
                "in_inventory": system.is_some(),
                "profile": system.and_then(|s| s.profile.clone()),
                "netboot": system.map(|s| s.netboot().as_str()),
                "macs": macs,
                "ip": ip,
                "state": row.map(|r| r.state),
                "since": row.map(|r| r.since),
                "installed_at": row.and_then(|r| r.installed_at),
                "last_event": row.and_then(|r| r.last_event),
                "events": row.map(|r| json!(r.events)).unwrap_or(json!([])),
            }));
        }
        Value::Array(out)
    }

    /// The machines discovered and not in the inventory, seen last first.
    fn discovered_rows(&self) -> Result<Vec<crate::discovery::Machine>, Problem> {
        let inventory = self.cache.get();
        match &self.discovered {
            Some(d) => Ok(d.rows(&inventory)),
            None => crate::discovery::rows(self.states.dir(), &inventory)
                .map_err(|e| Problem::new(500, format!("{e:#}"))),
        }
    }

    /// `DELETE /api/v1/discovered/MAC`: forgets a discovered machine (it
    /// is listed again if it boots again).
    fn forget(&self, mac: &str) -> Result<Reply, Problem> {
        let Ok(parsed) = mac.parse::<crate::inventory::model::Mac>() else {
            return Err(Problem::new(400, format!("{mac}: not a MAC address")));
        };
        let Some(discovered) = &self.discovered else {
            return Err(Problem::new(503, "awl serve keeps no discovered list here"));
        };
        match discovered.forget(parsed.0) {
            Ok(true) => {
                tracing::info!("api: discovered {parsed}: forgotten");
                Ok(Reply::new(204, JSON, ""))
            }
            Ok(false) => Err(Problem::new(404, format!("{parsed} is not listed"))),
            Err(e) => Err(Problem::new(503, format!("{e:#}; still listed"))),
        }
    }

    fn leases(&self) -> Value {
        let now = lifecycle::now();
        let leases = self
            .lease_file
            .as_deref()
            .map(crate::dhcp::leases::load)
            .unwrap_or_default();
        Value::Array(
            leases
                .iter()
                .filter(|l| l.expires > now)
                .map(|l| {
                    json!({
                        "mac": crate::inventory::model::Mac(l.mac).to_string(),
                        "ip": l.ip.to_string(),
                        "expires": l.expires,
                        "system": self.cache.get().system_by_mac(l.mac).map(|(s, _)| s.name.clone()),
                    })
                })
                .collect(),
        )
    }

    fn metrics(&self) -> Reply {
        use std::fmt::Write;
        let mut out = String::new();
        self.counters.render(&mut out);
        let now = lifecycle::now();
        if let Some(file) = &self.lease_file {
            let in_use = crate::dhcp::leases::load(file)
                .iter()
                .filter(|l| l.expires > now)
                .count();
            crate::metrics::family(
                &mut out,
                "awl_dhcp_leases_in_use",
                "gauge",
                "Leases bound and not expired.",
            );
            let _ = writeln!(out, "awl_dhcp_leases_in_use {in_use}");
        }
        crate::metrics::family(
            &mut out,
            "awl_installs",
            "gauge",
            "Systems by install state.",
        );
        let installs = self.states.load().unwrap_or_default();
        for state in lifecycle::State::ALL.map(lifecycle::State::as_str) {
            let n = installs
                .values()
                .filter(|r| r.effective(now).as_str() == state)
                .count();
            let _ = writeln!(out, "awl_installs{{state=\"{state}\"}} {n}");
        }
        crate::metrics::family(
            &mut out,
            "awl_discovered_machines",
            "gauge",
            "Machines that network-booted and that the inventory does not know (awl discovered).",
        );
        let discovered = self.discovered_rows().map_or(0, |rows| rows.len());
        let _ = writeln!(out, "awl_discovered_machines {discovered}");
        crate::metrics::family(
            &mut out,
            "awl_inventory_systems",
            "gauge",
            "Systems in the inventory.",
        );
        let _ = writeln!(
            out,
            "awl_inventory_systems {}",
            self.cache.get().systems.len()
        );
        Reply::new(200, "text/plain; version=0.0.4; charset=utf-8", out)
    }
}

impl Dynamic for Api {
    fn refuse_body(&self, request: &Request<'_>) -> Option<Reply> {
        let write = !matches!(request.method, Method::Get | Method::Head);
        let api = request.path.starts_with("/api/");
        (api && write && !auth::authorized(request, &self.token)).then(|| {
            Problem::new(
                401,
                "writes need Authorization: Bearer TOKEN (the token is in STATE_DIR/api-token)",
            )
            .reply()
        })
    }

    fn respond(&self, request: &Request<'_>) -> Option<Reply> {
        let get = matches!(request.method, Method::Get | Method::Head);
        match request.path {
            "/" | "/index.html" if get => Some(
                Reply::new(200, "text/html; charset=utf-8", PAGE)
                    .with_header("Cache-Control", "no-cache")
                    .with_header("X-Content-Type-Options", "nosniff")
                    .with_header(
                        "Content-Security-Policy",
                        "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
                    ),
            ),
            "/metrics" if get => Some(self.metrics()),
            path => match path.strip_prefix("/api/v1") {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    Some(self.api(request, rest).unwrap_or_else(|p| {
                        tracing::info!("api: {} {:?} {}: {p}", request.peer, request.method, request.path);
                        p.reply()
                    }))
                }
                _ => self.next.respond(request),
            },
        }
    }
}

fn json_reply(status: u16, value: &Value) -> Reply {
    Reply::new(status, JSON, format!("{value:#}\n")).with_header("Cache-Control", "no-store")
}

/// The request's body as JSON.
fn json_body(request: &Request<'_>) -> Result<Value, Problem> {
    let media = request.header("content-type").unwrap_or("application/json");
    let essence = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        essence.as_str(),
        "application/json" | "application/merge-patch+json"
    ) {
        return Err(Problem::new(
            415,
            format!("Content-Type {media}: send application/json"),
        ));
    }
    serde_json::from_slice(request.body)
        .map_err(|e| Problem::new(400, format!("the body is not JSON: {e}")))
}

/// Whether `name=true` (or `name=1`, or bare `name`) is in the query.
fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
            k == name && matches!(v, "true" | "1" | "yes")
        })
    })
}
