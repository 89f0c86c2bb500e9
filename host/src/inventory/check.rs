//! Validation: every problem, each naming the file, line, column and
//! field, never just the first.
//!
//! [`Inventory::check`] finds what is wrong between entries and in their
//! values: names, references (distro, parent, profile), profile cycles,
//! the same MAC, address, hostname, UUID or name twice, kernel arguments,
//! netboot without a profile, `[unknown]`. Given a [`CheckContext`], it
//! also checks what depends on the rest of the server: addresses inside
//! the served subnets, kernel and initrd files under the files root, and
//! templates (through a checker the template renderer supplies).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Component, Path, PathBuf};

use super::kernel_args;
use super::model::{
    Distro, Family, Inventory, Netboot, Place, Pos, Profile, System, UnknownAction,
};

/// One thing wrong with the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, when the inventory came from one.
    pub file: Option<PathBuf>,
    /// Where in it, when known.
    pub pos: Option<Pos>,
    /// The entry and field: `system[web1].interface[0].mac`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
            if let Some(pos) = self.pos {
                write!(f, "{}:{}:", pos.line, pos.column)?;
            }
            f.write_str(" ")?;
        }
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Every problem found, in file order; an error when there is any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// A single problem about the whole file (it cannot be read, say).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self(vec![Problem {
            file: Some(file.to_path_buf()),
            pos: None,
            field: String::new(),
            message: message.into(),
        }])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Checks one profile's own template: `Err(why)` when it would not
/// render.
pub type TemplateCheck = dyn Fn(&Profile) -> Result<(), String>;

/// What a check needs from the rest of the server; the default checks the
/// inventory alone.
#[derive(Clone, Copy, Default)]
pub struct CheckContext<'a> {
    /// The served subnets (network, mask): every fixed address must be in
    /// one. Empty: not checked.
    pub subnets: &'a [(Ipv4Addr, Ipv4Addr)],
    /// Where kernel and initrd paths are found: each must be a file there
    /// (URLs are not fetched). `None`: not checked.
    pub files_root: Option<&'a Path>,
    /// Checks a profile's own template (the renderer's part); its error
    /// is reported at the profile's `template` field.
    pub template: Option<&'a TemplateCheck>,
}

impl fmt::Debug for CheckContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckContext")
            .field("subnets", &self.subnets)
            .field("files_root", &self.files_root)
            .field("template", &self.template.map(|_| "..."))
            .finish()
    }
}

/// Collects problems against one inventory's file.
pub(crate) struct Report<'a> {
    file: Option<&'a Path>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(file: Option<&'a Path>) -> Self {
        Self {
            file,
            problems: Vec::new(),
        }
    }

    /// A problem with `field` of the entry `entry` (`system[web1]`),
    /// placed where `place` says the field stands.
    pub(crate) fn at(&mut self, place: &Place, entry: &str, field: &str, message: String) {
        let pos = if field.is_empty() {
            place.table
        } else {
            place.of(field)
        };
        self.push(pos, dotted(entry, field), message);
    }

    pub(crate) fn push(&mut self, pos: Option<Pos>, field: String, message: String) {
        self.problems.push(Problem {
            file: self.file.map(Path::to_path_buf),
            pos,
            field,
            message,
        });
    }

    /// The problems in file order (those without a place last).
    pub(crate) fn finish(mut self) -> Vec<Problem> {
        self.problems
            .sort_by_key(|p| p.pos.map_or((usize::MAX, 0), |p| (p.line, p.column)));
        self.problems
    }
}

/// `entry.field`, or either alone.
pub(crate) fn dotted(entry: &str, field: &str) -> String {
    match (entry.is_empty(), field.is_empty()) {
        (_, true) => entry.to_string(),
        (true, false) => field.to_string(),
        (false, false) => format!("{entry}.{field}"),
    }
}

/// Whether `name` may name a distro, profile or system: it appears in
/// URLs and file names, so letters, digits, `.`, `_` and `-` only.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a name cannot be empty".into());
    }
    if name.starts_with(['.', '-']) {
        return Some(format!("{name:?}: a name starts with a letter, digit or _"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "{name:?}: {bad:?} is not allowed in a name (letters, digits, ., _ and -)"
        ));
    }
    None
}

/// Whether `name` is a valid hostname (RFC 1123: labels of letters,
/// digits and `-`, dots between them).
pub fn hostname_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    (!ok)
        .then(|| format!("{name:?} is not a hostname (letters, digits and -, dots between labels)"))
}

fn is_url(path: &str) -> bool {
    path.contains("://")
}

impl Inventory {
    /// Every problem, in file order; empty when all is well.
    pub fn check(&self, ctx: &CheckContext<'_>) -> Vec<Problem> {
        let mut report = Report::new(self.path());
        self.check_into(ctx, &mut report);
        report.finish()
    }

    pub(crate) fn check_into(&self, ctx: &CheckContext<'_>, r: &mut Report<'_>) {
        self.check_names(r);
        self.check_distros(ctx, r);
        self.check_profiles(ctx, r);
        self.check_systems(ctx, r);
        self.check_unknown(r);
    }

    fn check_names(&self, r: &mut Report<'_>) {
        let kinds: [(&str, Vec<(&str, &Place)>); 3] = [
            (
                "distro",
                self.distros
                    .iter()
                    .map(|d| (d.name.as_str(), &d.place))
                    .collect(),
            ),
            (
                "profile",
                self.profiles
                    .iter()
                    .map(|p| (p.name.as_str(), &p.place))
                    .collect(),
            ),
            (
                "system",
                self.systems
                    .iter()
                    .map(|s| (s.name.as_str(), &s.place))
                    .collect(),
            ),
        ];
        for (kind, entries) in kinds {
            let mut seen: HashMap<&str, &Place> = HashMap::new();
            for (name, place) in entries {
                // The label only when there is a problem (10,000 systems).
                let entry = || format!("{kind}[{name}]");
                if let Some(why) = name_problem(name) {
                    r.at(place, &entry(), "name", why);
                }
                if let Some(first) = seen.get(name) {
                    r.at(
                        place,
                        &entry(),
                        "name",
                        format!("another {kind} is named {name}{}", line_of(first)),
                    );
                } else {
                    seen.insert(name, place);
                }
            }
        }
    }

    fn check_distros(&self, ctx: &CheckContext<'_>, r: &mut Report<'_>) {
        for d in &self.distros {
            let entry = format!("distro[{}]", d.name);
            if let Err(e) = kernel_args::parse(&d.kernel_args) {
                r.at(&d.place, &entry, "kernel_args", e);
            }
            if d.kernel.trim().is_empty() {
                r.at(&d.place, &entry, "kernel", "is empty".into());
            }
            if d.initrd.is_empty() {
                r.at(
                    &d.place,
                    &entry,
                    "initrd",
                    "needs at least one initrd".into(),
                );
            }
            let files = std::iter::once(("kernel".to_string(), &d.kernel)).chain(
                d.initrd
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (format!("initrd[{i}]"), f)),
            );
            for (field, path) in files {
                if let Some(why) = file_problem(path, ctx.files_root) {
                    // The span of `initrd[i]` falls back to `initrd`.
                    let at = if d.place.fields.contains_key(&field) {
                        field.clone()
                    } else {
                        field.split('[').next().unwrap_or_default().to_string()
                    };
                    let pos = d.place.of(&at);
                    r.push(pos, dotted(&entry, &field), why);
                }
            }
            if let Some(tree) = &d.tree {
                if !is_url(tree) {
                    r.at(
                        &d.place,
                        &entry,
                        "tree",
                        format!("{tree}: expected a URL (http://...)"),
                    );
                }
            }
            self.check_image(d, &entry, ctx, r);
        }
    }

    /// Family `image` needs its image and checksum; no other family has
    /// them.
    fn check_image(&self, d: &Distro, entry: &str, ctx: &CheckContext<'_>, r: &mut Report<'_>) {
        let is_image = d.family == Family::Image;
        match (&d.image, is_image) {
            (None, true) => r.at(
                &d.place,
                entry,
                "image",
                "family image needs image = \"PATH or URL\" (the raw disk image)".into(),
            ),
            (Some(_), false) => r.at(
                &d.place,
                entry,
                "image",
                format!("only family image has an image (this one is {})", d.family),
            ),
            (Some(image), true) if image.trim().is_empty() => {
                r.at(&d.place, entry, "image", "is empty".into())
            }
            (Some(image), true) if !is_url(image) => {
                if let Some(why) = file_problem(image, ctx.files_root) {
                    r.at(&d.place, entry, "image", why);
                }
            }
            _ => {}
        }
        match (&d.image_sha256, is_image) {
            (None, true) => r.at(
                &d.place,
                entry,
                "image_sha256",
                "family image needs image_sha256 (64 hex digits; awl import computes it)".into(),
            ),
            (Some(_), false) => r.at(
                &d.place,
                entry,
                "image_sha256",
                "only family image has an image_sha256".into(),
            ),
            (Some(sum), true) if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) => {
                r.at(
                    &d.place,
                    entry,
                    "image_sha256",
                    format!("{sum}: expected 64 hex digits (a SHA-256)"),
                )
            }
            _ => {}
        }
    }

    fn check_profiles(&self, ctx: &CheckContext<'_>, r: &mut Report<'_>) {
        for p in &self.profiles {
            let entry = format!("profile[{}]", p.name);
            match (&p.distro, &p.parent) {
                (Some(_), Some(_)) => r.at(
                    &p.place,
                    &entry,
                    "parent",
                    "give distro or parent, not both".into(),
                ),
                (None, None) => r.at(&p.place, &entry, "", "needs a distro or a parent".into()),
                (Some(d), None) if self.distro(d).is_none() => {
                    r.at(
                        &p.place,
                        &entry,
                        "distro",
                        format!("no distro is named {d}"),
                    );
                }
                (None, Some(parent)) if self.profile(parent).is_none() => {
                    r.at(
                        &p.place,
                        &entry,
                        "parent",
                        format!("no profile is named {parent}"),
                    );
                }
                _ => {}
            }
            if let Err(e) = kernel_args::parse(&p.kernel_args) {
                r.at(&p.place, &entry, "kernel_args", e);
            }
            if let Some(cycle) = self.cycle_from(p) {
                r.at(
                    &p.place,
                    &entry,
                    "parent",
                    format!("profiles inherit in a cycle: {}", cycle.join(" -> ")),
                );
            }
            if p.template.as_deref().is_some_and(|t| t.trim().is_empty()) {
                r.at(&p.place, &entry, "template", "is empty".into());
            }
            if let (Some(checker), Some(_)) = (ctx.template, &p.template) {
                if let Err(why) = checker(p) {
                    r.at(&p.place, &entry, "template", why);
                }
            }
        }
    }

    /// The chain of parents from `p` when it comes back to `p`.
    fn cycle_from(&self, p: &Profile) -> Option<Vec<String>> {
        let mut chain = vec![p.name.clone()];
        let mut at = p;
        while let Some(parent) = at.parent.as_deref() {
            chain.push(parent.to_string());
            if parent == p.name {
                return Some(chain);
            }
            at = self.profile(parent)?;
            if chain.len() > self.profiles.len() + 1 {
                return None; // a cycle further up, reported at its members
            }
        }
        None
    }

    fn check_systems(&self, ctx: &CheckContext<'_>, r: &mut Report<'_>) {
        let mut macs = Claims::default();
        let mut ips = Claims::default();
        let mut hostnames = Claims::default();
        let mut uuids = Claims::default();
        for s in &self.systems {
            let mut at = |field: &str, message: String| {
                r.at(&s.place, &format!("system[{}]", s.name), field, message);
            };
            match &s.profile {
                Some(p) if self.profile(p).is_none() => {
                    at("profile", format!("no profile is named {p}"));
                }
                None if s.netboot == Some(Netboot::Once) => {
                    let why = "a system without a profile has nothing to install once \
                               (always: it boots as an unknown machine does)";
                    at("netboot", why.into());
                }
                _ => {}
            }
            if let Some(file) = &s.boot_file {
                if file.is_empty() || file.len() > 255 || file.chars().any(char::is_control) {
                    at(
                        "boot_file",
                        format!("{file:?}: a boot file or URL has 1 to 255 bytes and no control characters"),
                    );
                }
            }
            if s.interfaces.is_empty() && s.uuid.is_none() {
                at(
                    "",
                    "needs an interface (mac) or a uuid to be recognised".into(),
                );
            }
            if let Err(e) = kernel_args::parse(&s.kernel_args) {
                at("kernel_args", e);
            }
            if let Some(uuid) = s.uuid.filter(|u| u.0 == [0; 16] || u.0 == [0xff; 16]) {
                // SMBIOS: not set. Every machine without a UUID of its own
                // sends it, and would be this system.
                at(
                    "uuid",
                    format!("{uuid} is the UUID of a machine that has none (SMBIOS): name it by its MAC"),
                );
            } else if let Some(uuid) = s.uuid {
                if let Some(also) = uuids.claim(uuid, s) {
                    at("uuid", format!("{uuid} {also}"));
                }
            }
            for (i, ifc) in s.interfaces.iter().enumerate() {
                let field = |f: &str| format!("interface[{i}].{f}");
                if let Some(also) = macs.claim(ifc.mac, s) {
                    at(&field("mac"), format!("{} {also}", ifc.mac));
                }
                if let Some(ip) = ifc.ip {
                    if let Some(also) = ips.claim(ip, s) {
                        at(&field("ip"), format!("{ip} {also}"));
                    }
                    if let Some(why) = outside(ip, ctx.subnets) {
                        at(&field("ip"), why);
                    }
                }
                if let Some(host) = &ifc.hostname {
                    if let Some(why) = hostname_problem(host) {
                        at(&field("hostname"), why);
                    }
                    if let Some(also) = hostnames.claim(host.to_ascii_lowercase(), s) {
                        at(&field("hostname"), format!("{host} {also}"));
                    }
                }
            }
        }
    }

    fn check_unknown(&self, r: &mut Report<'_>) {
        let u = &self.unknown;
        match (&u.action, &u.profile) {
            (UnknownAction::DefaultProfile, None) => {
                r.at(
                    &u.place,
                    "unknown",
                    "action",
                    "default-profile needs profile = \"NAME\"".into(),
                );
            }
            (_, Some(p)) if self.profile(p).is_none() => {
                r.at(
                    &u.place,
                    "unknown",
                    "profile",
                    format!("no profile is named {p}"),
                );
            }
            _ => {}
        }
    }
}

/// Who has each MAC, address, hostname or UUID first.
struct Claims<'a, K>(HashMap<K, &'a System>);

impl<K> Default for Claims<'_, K> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<'a, K: std::hash::Hash + Eq> Claims<'a, K> {
    /// `system` claims `key`: `None` when it is the first, else "is also
    /// system NAME's (line N)".
    fn claim(&mut self, key: K, system: &'a System) -> Option<String> {
        match self.0.entry(key) {
            Entry::Occupied(first) => {
                let first = first.get();
                Some(format!(
                    "is also system {}'s{}",
                    first.name,
                    line_of(&first.place)
                ))
            }
            Entry::Vacant(slot) => {
                slot.insert(system);
                None
            }
        }
    }
}

/// Why `ip` is in none of `subnets` (none given: no reason).
fn outside(ip: Ipv4Addr, subnets: &[(Ipv4Addr, Ipv4Addr)]) -> Option<String> {
    let inside = |(net, mask): &(Ipv4Addr, Ipv4Addr)| {
        u32::from(ip) & u32::from(*mask) == u32::from(*net) & u32::from(*mask)
    };
    if subnets.is_empty() || subnets.iter().any(inside) {
        return None;
    }
    let served: Vec<String> = subnets
        .iter()
        .map(|(n, m)| format!("{n}/{}", u32::from(*m).count_ones()))
        .collect();
    Some(format!(
        "{ip} is outside every served subnet ({})",
        served.join(", ")
    ))
}

/// " (line N)" for a problem that points at a second place.
fn line_of(place: &Place) -> String {
    place
        .table
        .map(|p| format!(" (line {})", p.line))
        .unwrap_or_default()
}

/// What is wrong with a kernel or initrd path: a URL is taken as is; a
/// path must stay inside the files root and, when one is given, be a file
/// there.
fn file_problem(path: &str, root: Option<&Path>) -> Option<String> {
    if is_url(path) || path.trim().is_empty() {
        return None;
    }
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Some(format!("{path}: must stay inside the files root (no ..)"));
    }
    let root = root?;
    let full = root.join(relative);
    if full.is_file() {
        None
    } else {
        Some(format!("{path}: no such file under {}", root.display()))
    }
}
