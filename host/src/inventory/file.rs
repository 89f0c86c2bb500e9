//! The inventory file: TOML that reads like a Cobbler listing, one table
//! per entry.
//!
//! ```toml
//! [unknown]
//! action = "menu"
//!
//! [[distro]]
//! name = "debian-12"
//! kernel = "debian-12/linux"
//! initrd = ["debian-12/initrd.gz"]
//! tree = "http://deb.debian.org/debian"
//! arch = "x86_64"
//! family = "debian"
//!
//! [[profile]]
//! name = "web"
//! distro = "debian-12"
//! template = "preseed"
//! kernel_args = "console=ttyS0,115200"
//!
//! [profile.vars]
//! packages = ["nginx"]
//!
//! [[system]]
//! name = "web1"
//! profile = "web"
//! netboot = "once"
//!
//! [[system.interface]]
//! mac = "52:54:00:12:34:56"
//! ip = "10.0.0.20"
//! hostname = "web1"
//! ```
//!
//! Reading walks the document itself (not serde's derive) so that one
//! entry's mistake (an unknown key, a wrong type, a bad MAC) is reported
//! at its line and field while every other entry is still read and
//! checked: [`parse`] returns every problem at once. Writing
//! ([`to_toml`]) prints the same shape; what is written reads back equal.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::check::{CheckContext, Problems, Report};
use super::model::Source;
use super::model::{
    Distro, Interface, Inventory, Place, Pos, Profile, System, UnknownPolicy, Vars,
};

/// What every written file starts with.
pub const HEADER: &str = "\
# awl inventory: distros, profiles, systems (see docs/inventory.md).
# `awl distro|profile|system add|edit|remove` rewrite only the entries they
# change; comments elsewhere stay.
";

/// Reads an inventory and checks it on its own ([`CheckContext`]'s
/// default); `path` is named in problems. Returns every problem, in file
/// order.
pub fn parse(text: &str, path: Option<&Path>) -> Result<Inventory, Problems> {
    parse_with(text, path, &CheckContext::default())
}

/// Reads an inventory and checks it in `ctx` (served subnets, files
/// root, templates): every problem, the file's and the context's.
pub fn parse_with(
    text: &str,
    path: Option<&Path>,
    ctx: &CheckContext<'_>,
) -> Result<Inventory, Problems> {
    let mut report = Report::new(path);
    let read = read_at(text, 0, path, &mut report);
    let (inventory, shape) = match read {
        Some((inventory, shape)) => (Some(inventory), Some(shape)),
        None => (None, None),
    };
    if let Some(inventory) = &inventory {
        // Checks between entries, except about entries that could not be
        // read whole (an interface with a bad MAC is not "no interface").
        let mut between = Report::new(path);
        inventory.check_into(ctx, &mut between);
        let unread: HashSet<&str> = report.problems.iter().map(|p| entry_of(&p.field)).collect();
        let keep: Vec<_> = between
            .problems
            .into_iter()
            .filter(|p| {
                // Unread entries, and (after any) entries without a name.
                let entry = entry_of(&p.field);
                let unnamed = entry.ends_with("[]");
                !unread.contains(entry) && (unread.is_empty() || !unnamed)
            })
            .collect();
        report.problems.extend(keep);
    }
    let problems = report.finish();
    match inventory {
        Some(mut inventory) if problems.is_empty() => {
            if shape.is_some_and(|s| s.lists_as_tables) {
                inventory.source = Source::of(text);
            }
            Ok(inventory)
        }
        _ => Err(Problems(problems)),
    }
}

/// The entry a problem's field names: `system[web1]` of
/// `system[web1].interface[0].mac`, `unknown` of `unknown.action`.
fn entry_of(field: &str) -> &str {
    let end = match (field.find('['), field.find('.')) {
        (Some(b), dot) if dot.is_none_or(|d| b < d) => {
            field[b..].find(']').map_or(field.len(), |e| b + e + 1)
        }
        (_, Some(d)) => d,
        _ => field.len(),
    };
    &field[..end]
}

/// How a text gave its lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Every `distro`, `profile` and `system` list it has is written as
    /// `[[tables]]` (not inline): more may be appended after it.
    pub lists_as_tables: bool,
    /// It has `[unknown]`.
    pub has_unknown: bool,
}

/// Reads what can be read of `text`, which stands after `lines_before`
/// lines of its file; problems go to `report`. `None` when the text is
/// not TOML at all.
pub(crate) fn read_at(
    text: &str,
    lines_before: usize,
    path: Option<&Path>,
    report: &mut Report<'_>,
) -> Option<(Inventory, Shape)> {
    let lines = Lines::new(text, lines_before);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let pos = e.span().map(|s| lines.pos(s.start));
            report.push(pos, String::new(), e.message().trim_end().to_string());
        }
        return None;
    }
    let mut r = Reader { lines, report };
    let mut inventory = Inventory {
        path: path.map(Path::to_path_buf),
        ..Inventory::default()
    };
    let mut shape = Shape {
        lists_as_tables: true,
        has_unknown: false,
    };
    for (key, value) in root.into_inner() {
        let kind = key.get_ref().as_ref();
        if matches!(kind, "distro" | "profile" | "system") {
            // An array of tables takes the span of its first `[[header]]`;
            // an inline array (`system = [...]`) that of its `[` (and a
            // `[[` there would be an array of arrays, refused below).
            let at = text.get(value.span().start..).unwrap_or_default();
            shape.lists_as_tables &= at.starts_with("[[");
        }
        shape.has_unknown |= kind == "unknown";
        match kind {
            "distro" => {
                for (i, entry) in r.array_of_tables("distro", value).into_iter().enumerate() {
                    inventory.distros.extend(r.distro(i, entry));
                }
            }
            "profile" => {
                for (i, entry) in r.array_of_tables("profile", value).into_iter().enumerate() {
                    inventory.profiles.extend(r.profile(i, entry));
                }
            }
            "system" => {
                for (i, entry) in r.array_of_tables("system", value).into_iter().enumerate() {
                    inventory.systems.extend(r.system(i, entry));
                }
            }
            "unknown" => {
                if let Some(u) = r.unknown(value) {
                    inventory.unknown = u;
                }
            }
            other => {
                let pos = r.lines.pos(key.span().start);
                r.report.push(
                    Some(pos),
                    other.to_string(),
                    "unknown key (expected [[distro]], [[profile]], [[system]] or [unknown])"
                        .into(),
                );
            }
        }
    }
    Some((inventory, shape))
}

/// Byte offsets to lines and columns.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
    /// Lines of the file before `text`.
    before: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str, before: usize) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text,
            starts,
            before,
        }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        Pos {
            line: line + self.before,
            column,
        }
    }
}

struct Reader<'t, 'r, 'p> {
    lines: Lines<'t>,
    report: &'r mut Report<'p>,
}

/// One table being read: its keys not yet taken, and where each taken
/// one stood.
struct Fields<'i> {
    /// `system[web1]`, `system[web1].interface[0]`.
    label: String,
    span: Range<usize>,
    keys: Vec<(Spanned<String>, Spanned<DeValue<'i>>)>,
    place: Place,
}

impl<'t, 'r, 'p> Reader<'t, 'r, 'p> {
    fn problem(&mut self, offset: usize, field: String, message: String) {
        let pos = self.lines.pos(offset);
        self.report.push(Some(pos), field, message);
    }

    /// The elements of `[[key]]`; anything else is a problem.
    fn array_of_tables<'i>(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'i>>,
    ) -> Vec<Spanned<DeValue<'i>>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items.into_iter().collect(),
            _ => {
                self.problem(
                    span.start,
                    key.to_string(),
                    format!("expected [[{key}]] tables, one per {key}"),
                );
                Vec::new()
            }
        }
    }

    fn fields<'i>(&mut self, label: String, value: Spanned<DeValue<'i>>) -> Option<Fields<'i>> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.problem(span.start, label, "expected a table".into());
            return None;
        };
        let place = Place {
            table: Some(self.lines.pos(span.start)),
            ..Place::default()
        };
        let keys = table
            .into_iter()
            .map(|(k, v)| (Spanned::new(k.span(), k.into_inner().into_owned()), v))
            .collect();
        Some(Fields {
            label,
            span,
            keys,
            place,
        })
    }

    /// Takes `key` out of `f` as a `T`; a wrong type is a problem.
    fn take<T: DeserializeOwned>(&mut self, f: &mut Fields<'_>, key: &str) -> Option<Spanned<T>> {
        let value = Self::take_raw(f, key)?;
        let span = value.span();
        f.place
            .fields
            .insert(key.into(), self.lines.pos(span.start));
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(Spanned::new(span, v)),
            Err(e) => {
                let at = e.span().unwrap_or(span).start;
                self.problem(
                    at,
                    format!("{}.{key}", f.label),
                    e.message().trim_end().into(),
                );
                None
            }
        }
    }

    fn take_raw<'i>(f: &mut Fields<'i>, key: &str) -> Option<Spanned<DeValue<'i>>> {
        let i = f.keys.iter().position(|(k, _)| k.get_ref() == key)?;
        Some(f.keys.remove(i).1)
    }

    /// A string field parsed as `T`; a bad value is a problem at it.
    fn parsed<T: FromStr<Err = String>>(&mut self, f: &mut Fields<'_>, key: &str) -> Option<T> {
        let text = self.take::<String>(f, key)?;
        match text.get_ref().parse() {
            Ok(v) => Some(v),
            Err(why) => {
                self.problem(text.span().start, format!("{}.{key}", f.label), why);
                None
            }
        }
    }

    /// A required field missing is a problem at its table.
    fn required<T>(
        &mut self,
        f: &Fields<'_>,
        key: &str,
        value: Option<T>,
        present: bool,
    ) -> Option<T> {
        if value.is_none() && !present {
            self.problem(f.span.start, format!("{}.{key}", f.label), "missing".into());
        }
        value
    }

    fn has(f: &Fields<'_>, key: &str) -> bool {
        f.keys.iter().any(|(k, _)| k.get_ref() == key)
    }

    /// Reports keys nobody took; returns where everything stood.
    fn finish(&mut self, f: Fields<'_>, known: &str) -> Place {
        for (key, _) in &f.keys {
            self.problem(
                key.span().start,
                format!("{}.{}", f.label, key.get_ref()),
                format!("unknown key (expected {known})"),
            );
        }
        f.place
    }

    /// `name`, and the label the entry's problems carry.
    fn name(&mut self, kind: &str, index: usize, f: &mut Fields<'_>) -> String {
        let name = self.take::<String>(f, "name").map(Spanned::into_inner);
        match name {
            Some(name) => {
                f.label = format!("{kind}[{name}]");
                name
            }
            None => {
                if !f.place.fields.contains_key("name") {
                    self.problem(f.span.start, format!("{}.name", f.label), "missing".into());
                }
                let _ = index;
                String::new()
            }
        }
    }

    /// A table of variables, each one's place kept as `key.NAME`.
    fn vars(&mut self, f: &mut Fields<'_>, key: &str) -> Vars {
        if let Some(value) = f
            .keys
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| v)
        {
            if let DeValue::Table(table) = value.get_ref() {
                for (name, v) in table.iter() {
                    let pos = self.lines.pos(v.span().start);
                    f.place
                        .fields
                        .insert(format!("{key}.{}", name.get_ref()), pos);
                }
            }
        }
        self.take::<Vars>(f, key)
            .map(Spanned::into_inner)
            .unwrap_or_default()
    }

    fn distro(&mut self, index: usize, value: Spanned<DeValue<'_>>) -> Option<Distro> {
        let mut f = self.fields(format!("distro[#{}]", index + 1), value)?;
        let name = self.name("distro", index, &mut f);
        let present = Self::has(&f, "kernel");
        let kernel = self
            .take::<String>(&mut f, "kernel")
            .map(Spanned::into_inner);
        let kernel = self.required(&f, "kernel", kernel, present);
        let initrd = self.initrd(&mut f);
        let tree = self.take::<String>(&mut f, "tree").map(Spanned::into_inner);
        let arch = self.parsed(&mut f, "arch");
        let family = self.parsed(&mut f, "family");
        let kernel_args = self
            .take::<String>(&mut f, "kernel_args")
            .map(Spanned::into_inner);
        let image = self
            .take::<String>(&mut f, "image")
            .map(Spanned::into_inner);
        let image_sha256 = self
            .take::<String>(&mut f, "image_sha256")
            .map(Spanned::into_inner);
        let place = self.finish(
            f,
            "name, kernel, initrd, tree, arch, family, kernel_args, image, image_sha256",
        );
        Some(Distro {
            name,
            kernel: kernel.unwrap_or_default(),
            initrd: initrd.unwrap_or_default(),
            tree,
            arch: arch.unwrap_or_default(),
            family: family.unwrap_or_default(),
            kernel_args: kernel_args.unwrap_or_default(),
            image,
            image_sha256,
            place,
        })
    }

    /// `initrd = "one"` or `initrd = ["one", "two"]`.
    fn initrd(&mut self, f: &mut Fields<'_>) -> Option<Vec<String>> {
        let Some(value) = f
            .keys
            .iter()
            .find(|(k, _)| k.get_ref() == "initrd")
            .map(|(_, v)| v)
        else {
            self.problem(
                f.span.start,
                format!("{}.initrd", f.label),
                "missing".into(),
            );
            return None;
        };
        if let DeValue::Array(items) = value.get_ref() {
            for (i, item) in items.iter().enumerate() {
                let pos = self.lines.pos(item.span().start);
                f.place.fields.insert(format!("initrd[{i}]"), pos);
            }
            return self
                .take::<Vec<String>>(f, "initrd")
                .map(Spanned::into_inner);
        }
        self.take::<String>(f, "initrd")
            .map(|one| vec![one.into_inner()])
    }

    fn profile(&mut self, index: usize, value: Spanned<DeValue<'_>>) -> Option<Profile> {
        let mut f = self.fields(format!("profile[#{}]", index + 1), value)?;
        let name = self.name("profile", index, &mut f);
        let distro = self
            .take::<String>(&mut f, "distro")
            .map(Spanned::into_inner);
        let parent = self
            .take::<String>(&mut f, "parent")
            .map(Spanned::into_inner);
        let template = self
            .take::<String>(&mut f, "template")
            .map(Spanned::into_inner);
        let kernel_args = self
            .take::<String>(&mut f, "kernel_args")
            .map(Spanned::into_inner);
        let vars = self.vars(&mut f, "vars");
        let place = self.finish(f, "name, distro, parent, template, kernel_args, vars");
        Some(Profile {
            name,
            distro,
            parent,
            template,
            kernel_args: kernel_args.unwrap_or_default(),
            vars,
            place,
        })
    }

    fn system(&mut self, index: usize, value: Spanned<DeValue<'_>>) -> Option<System> {
        let mut f = self.fields(format!("system[#{}]", index + 1), value)?;
        let name = self.name("system", index, &mut f);
        let profile = self
            .take::<String>(&mut f, "profile")
            .map(Spanned::into_inner);
        let netboot = self.parsed(&mut f, "netboot");
        let uuid = self.parsed(&mut f, "uuid");
        let boot_file = self
            .take::<String>(&mut f, "boot_file")
            .map(Spanned::into_inner);
        let kernel_args = self
            .take::<String>(&mut f, "kernel_args")
            .map(Spanned::into_inner);
        let mut interfaces = Vec::new();
        if let Some(list) = Self::take_raw(&mut f, "interface") {
            f.place
                .fields
                .insert("interface".into(), self.lines.pos(list.span().start));
            let label = format!("{}.interface", f.label);
            for (i, item) in self.array_of_tables(&label, list).into_iter().enumerate() {
                let prefix = format!("interface[{i}]");
                let Some(child) = self.fields(format!("{}.{prefix}", f.label), item) else {
                    continue;
                };
                let (ifc, place) = self.interface(child);
                if let Some(table) = place.table {
                    f.place.fields.insert(prefix.clone(), table);
                }
                for (k, pos) in place.fields {
                    f.place.fields.insert(format!("{prefix}.{k}"), pos);
                }
                interfaces.extend(ifc);
            }
        }
        let vars = self.vars(&mut f, "vars");
        let secrets = self.vars(&mut f, "secrets");
        let place = self.finish(
            f,
            "name, profile, netboot, uuid, boot_file, kernel_args, [[system.interface]], vars, secrets",
        );
        Some(System {
            name,
            profile,
            netboot,
            uuid,
            boot_file,
            kernel_args: kernel_args.unwrap_or_default(),
            interfaces,
            vars,
            secrets,
            place,
        })
    }

    fn interface(&mut self, mut f: Fields<'_>) -> (Option<Interface>, Place) {
        let present = Self::has(&f, "mac");
        let mac = self.parsed(&mut f, "mac");
        let mac = self.required(&f, "mac", mac, present);
        let ip = self.parsed::<IpText>(&mut f, "ip").map(|ip| ip.0);
        let hostname = self
            .take::<String>(&mut f, "hostname")
            .map(Spanned::into_inner);
        let place = self.finish(f, "mac, ip, hostname");
        let ifc = mac.map(|mac| Interface { mac, ip, hostname });
        (ifc, place)
    }

    fn unknown(&mut self, value: Spanned<DeValue<'_>>) -> Option<UnknownPolicy> {
        let mut f = self.fields("unknown".into(), value)?;
        let action = self.parsed(&mut f, "action");
        let profile = self
            .take::<String>(&mut f, "profile")
            .map(Spanned::into_inner);
        let place = self.finish(f, "action, profile");
        Some(UnknownPolicy {
            action: action.unwrap_or_default(),
            profile,
            place,
        })
    }
}

/// An IPv4 address with an error message that says which text was wrong.
struct IpText(std::net::Ipv4Addr);

impl FromStr for IpText {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map(Self)
            .map_err(|_| format!("{text}: expected an IPv4 address like 10.0.0.20"))
    }
}

/// The file's shape for writing.
#[derive(Serialize)]
struct Out<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown: Option<&'a UnknownPolicy>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    distro: &'a [Distro],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    profile: &'a [Profile],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    system: &'a [System],
}

/// The inventory as its file holds it (with [`HEADER`]); `[unknown]` only
/// when it is not the default.
pub fn to_toml(inventory: &Inventory) -> Result<String, toml::ser::Error> {
    let out = Out {
        unknown: (inventory.unknown != UnknownPolicy::default()).then_some(&inventory.unknown),
        distro: &inventory.distros,
        profile: &inventory.profiles,
        system: &inventory.systems,
    };
    Ok(format!("{HEADER}\n{}", toml::to_string(&out)?))
}

/// One entry alone, as it stands in the file (`[[system]]` ...), for
/// `show`.
pub fn entry_toml<T: Serialize>(kind: &str, entry: &T) -> Result<String, toml::ser::Error> {
    let mut table = std::collections::BTreeMap::new();
    table.insert(kind, [entry]);
    toml::to_string(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[unknown]
action = "default-profile"
profile = "web"

[[distro]]
name = "debian-12"
kernel = "debian-12/linux"
initrd = ["debian-12/initrd.gz", "firmware.cpio.gz"]
tree = "http://deb.debian.org/debian"
arch = "x86_64"
family = "debian"
kernel_args = "priority=critical console=tty0"

[[profile]]
name = "base"
distro = "debian-12"
template = "preseed"

[profile.vars]
packages = ["openssh-server"]
timezone = "UTC"

[[profile]]
name = "web"
parent = "base"
kernel_args = "console=ttyS0,115200"

[profile.vars]
packages = ["nginx"]

[[system]]
name = "web1"
profile = "web"
netboot = "once"
uuid = "4c4c4544-0042-3510-8052-b4c04f4b4d32"

[[system.interface]]
mac = "52:54:00:12:34:56"
ip = "10.0.0.20"
hostname = "web1"

[[system.interface]]
mac = "52:54:00:12:34:57"

[system.vars]
role = "frontend"

[system.secrets]
root_password_hash = "$6$salt$hash"

[[system]]
name = "printer"

[[system.interface]]
mac = "52:54:00:00:00:99"
ip = "10.0.0.99"
"#;

    fn problems(text: &str) -> Vec<String> {
        match parse(text, Some(Path::new("inv.toml"))) {
            Ok(_) => Vec::new(),
            Err(p) => p.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_example_reads() {
        let inv = parse(EXAMPLE, None).unwrap();
        assert_eq!(inv.distros[0].initrd.len(), 2);
        assert_eq!(inv.profiles[1].parent.as_deref(), Some("base"));
        let web1 = inv.system("web1").unwrap();
        assert_eq!(web1.interfaces.len(), 2);
        assert_eq!(web1.interfaces[0].ip, Some("10.0.0.20".parse().unwrap()));
        assert_eq!(
            web1.secrets["root_password_hash"].as_str(),
            Some("$6$salt$hash")
        );
        assert_eq!(web1.place.of("interface[1].mac").unwrap().line, 44);
        assert_eq!(web1.place.of("vars.role").unwrap().line, 47);
        assert_eq!(inv.system("printer").unwrap().profile, None);
    }

    #[test]
    fn what_is_written_reads_back_equal() {
        let inv = parse(EXAMPLE, None).unwrap();
        let text = to_toml(&inv).unwrap();
        let again = parse(&text, None).unwrap_or_else(|p| panic!("{p}\n{text}"));
        assert_eq!(again, inv, "{text}");
        assert_eq!(to_toml(&again).unwrap(), text);
        assert!(text.starts_with(HEADER));
        assert!(text.contains("[[system.interface]]"), "{text}");
        assert!(text.contains("[system.secrets]"), "{text}");
        // An empty inventory is the header alone.
        assert_eq!(
            to_toml(&Inventory::default()).unwrap(),
            format!("{HEADER}\n")
        );
        assert_eq!(parse(HEADER, None).unwrap(), Inventory::default());
    }

    #[test]
    fn every_problem_is_found_with_its_line_and_field() {
        let text = r#"[[distro]]
name = "d"
kernel = "linux"
initrd = "initrd.gz"
arch = "x86_64"
family = "debain"

[[profile]]
name = "p"
distro = "nosuch"
colour = "blue"

[[system]]
name = "a"
profile = "p"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.300"

[[system]]
name = "b"
profile = "p"
netboot = 3

[[system.interface]]
mac = "52:54:00:00:00:0z"
"#;
        let found = problems(text);
        assert_eq!(
            found,
            vec![
                "inv.toml:6:10: distro[d].family: \"debain\": expected redhat, debian, ubuntu, suse, image or generic",
                "inv.toml:11:1: profile[p].colour: unknown key (expected name, distro, parent, template, kernel_args, vars)",
                "inv.toml:19:6: system[a].interface[0].ip: 10.0.0.300: expected an IPv4 address like 10.0.0.20",
                "inv.toml:24:11: system[b].netboot: invalid type: integer `3`, expected a string",
                "inv.toml:27:7: system[b].interface[0].mac: 52:54:00:00:00:0z: expected hex bytes like 52:54:00:12:34:56",
            ]
        );
    }

    #[test]
    fn problems_between_entries_are_all_reported_where_they_stand() {
        let text = r#"[[distro]]
name = "d"
kernel = "linux"
initrd = "initrd.gz"
arch = "x86_64"
family = "debian"

[[profile]]
name = "p"
distro = "nosuch"

[[profile]]
name = "x"
parent = "y"

[[profile]]
name = "y"
parent = "x"

[[system]]
name = "a"
profile = "p"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.20"

[[system]]
name = "b"
profile = "q"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.20"

[[system]]
name = "a"
netboot = "once"
"#;
        let found = problems(text);
        assert_eq!(
            found,
            vec![
                "inv.toml:10:10: profile[p].distro: no distro is named nosuch",
                "inv.toml:14:10: profile[x].parent: profiles inherit in a cycle: x -> y -> x",
                "inv.toml:18:10: profile[y].parent: profiles inherit in a cycle: y -> x -> y",
                "inv.toml:30:11: system[b].profile: no profile is named q",
                "inv.toml:33:7: system[b].interface[0].mac: 52:54:00:00:00:01 is also system a's (line 20)",
                "inv.toml:34:6: system[b].interface[0].ip: 10.0.0.20 is also system a's (line 20)",
                "inv.toml:36:1: system[a]: needs an interface (mac) or a uuid to be recognised",
                "inv.toml:37:8: system[a].name: another system is named a (line 20)",
                "inv.toml:38:11: system[a].netboot: a system without a profile has nothing to install once (always: it boots as an unknown machine does)",
            ]
        );
    }

    #[test]
    fn a_syntax_error_is_located() {
        let found = problems("[[distro]]\nname = \"d\nkernel = 1\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("inv.toml:2:"), "{found:?}");
        let found = problems("[distro.d]\nkernel = \"k\"\n");
        assert_eq!(
            found,
            vec!["inv.toml:1:2: distro: expected [[distro]] tables, one per distro"]
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let found = problems(
            "[[distro]]\nname = \"d\"\n\n[[system]]\n[[system.interface]]\nip = \"10.0.0.1\"\n",
        );
        assert_eq!(
            found,
            vec![
                "inv.toml:1:1: distro[d].kernel: missing",
                "inv.toml:1:1: distro[d].initrd: missing",
                "inv.toml:4:1: system[#1].name: missing",
                "inv.toml:5:1: system[#1].interface[0].mac: missing",
            ]
        );
    }
}
