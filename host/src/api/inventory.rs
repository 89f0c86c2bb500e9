//! `/api/v1/distros`, `/api/v1/profiles`, `/api/v1/systems`: the inventory
//! over HTTP, with the CLI's rules.
//!
//! An entry's JSON has the fields its TOML table has in the inventory file
//! (docs/inventory.md), so what `GET` returns can be sent back. Every
//! write is one locked, checked, atomic edit of the file (as `awl system
//! add`): the entry is put into the file's TOML, and the whole inventory
//! is read back by the file's reader, so a bad field gets the same message
//! the file would, named by entry and field (`system[web1].interface[0].mac:
//! ...`), as a 422. The very next DHCP answer and boot script use it.

use anyhow::anyhow;
use serde::Serialize;
use serde_json::{json, Value};

use super::problem::Problem;
use crate::inventory::check::{Problem as Found, Problems, Report};
use crate::inventory::file;
use crate::inventory::find::SystemFilter;
use crate::inventory::model::Inventory;
use crate::inventory::store::{Invalid, InventoryCache, Store};

/// What secrets read as unless asked for with the token.
pub const HIDDEN: &str = "(hidden: ?show_secrets=true with the API token)";

/// One of the inventory's three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[[distro]]`
    Distro,
    /// `[[profile]]`
    Profile,
    /// `[[system]]`
    System,
}

impl Kind {
    /// The kind a collection's path segment names.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Some(match segment {
            "distros" => Self::Distro,
            "profiles" => Self::Profile,
            "systems" => Self::System,
            _ => return None,
        })
    }

    /// Its table name in the file.
    pub fn table(self) -> &'static str {
        match self {
            Self::Distro => "distro",
            Self::Profile => "profile",
            Self::System => "system",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Self::Distro => "distros",
            Self::Profile => "profiles",
            Self::System => "systems",
        }
    }

    /// Every entry of this kind as JSON, secrets hidden unless `secrets`;
    /// of systems, those `filter` matches.
    pub fn list(self, inventory: &Inventory, secrets: bool, filter: &SystemFilter) -> Vec<Value> {
        self.entries(inventory, secrets, None, filter)
    }

    /// The entry called `name`, as JSON.
    pub fn get(self, inventory: &Inventory, name: &str, secrets: bool) -> Option<Value> {
        let all = SystemFilter::default();
        self.entries(inventory, secrets, Some(name), &all).pop()
    }

    /// The entries (called `only`, when given) as JSON.
    fn entries(
        self,
        inventory: &Inventory,
        secrets: bool,
        only: Option<&str>,
        filter: &SystemFilter,
    ) -> Vec<Value> {
        let wanted = |name: &str| only.is_none_or(|only| only == name);
        match self {
            Self::Distro => inventory
                .distros
                .iter()
                .filter(|d| wanted(&d.name))
                .map(to_json)
                .collect(),
            Self::Profile => inventory
                .profiles
                .iter()
                .filter(|p| wanted(&p.name))
                .map(to_json)
                .collect(),
            Self::System => inventory
                .systems
                .iter()
                .filter(|s| wanted(&s.name) && filter.matches(s))
                .map(|s| {
                    let mut v = to_json(s);
                    if !secrets {
                        hide(&mut v);
                    }
                    v
                })
                .collect(),
        }
    }

    /// The entries that would break without `name` (its users).
    fn users(self, inventory: &Inventory, name: &str) -> Vec<String> {
        match self {
            Self::Distro => inventory.users_of_distro(name),
            Self::Profile => inventory.users_of_profile(name),
            Self::System => Vec::new(),
        }
    }

    /// Where the entry called `name` is.
    pub fn location(self, name: &str) -> String {
        format!("/api/v1/{}/{name}", self.segment())
    }
}

fn to_json<T: Serialize>(entry: &T) -> Value {
    serde_json::to_value(entry).unwrap_or(Value::Null)
}

fn hide(system: &mut Value) {
    if let Some(Value::Object(secrets)) = system.get_mut("secrets") {
        for v in secrets.values_mut() {
            *v = Value::String(HIDDEN.into());
        }
    }
}

/// How a write changes the entry called `name`.
#[derive(Debug)]
pub enum Change {
    /// `POST` to the collection: a new entry; 409 when the name is taken.
    Create(Value),
    /// `PUT`: the entry as given (made when missing).
    Replace(Value),
    /// `PATCH`: a JSON merge patch (RFC 7396) on the entry as it is.
    Merge(Value),
    /// `DELETE`: 409 while other entries use it.
    Remove,
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// A new entry.
    Created,
    /// An entry changed (or was written as it was).
    Changed,
    /// The entry is gone.
    Removed,
}

/// Applies `change` to the entry `name` of `kind` in `cache`'s file.
pub fn write(
    cache: &InventoryCache,
    kind: Kind,
    name: &str,
    change: Change,
) -> Result<Done, Problem> {
    match (kind, &change) {
        (Kind::System, Change::Create(body)) => return create_system(cache, name, body),
        (Kind::System, _) => match replace_system(cache, name, &change) {
            Some(done) => return done,
            // PUT of a system that is not there: created.
            None => {
                if let Change::Replace(body) = &change {
                    return create_system(cache, name, body);
                }
            }
        },
        _ => {}
    }
    let mut refused: Option<Problem> = None;
    let mut done = Done::Changed;
    let result = cache.store().update(&mut |inventory| {
        let outcome = edit(inventory, kind, name, &change);
        match outcome {
            Ok((new, what)) => {
                *inventory = new;
                done = what;
                Ok(())
            }
            Err(problem) => {
                refused = Some(problem);
                Err(anyhow!("refused"))
            }
        }
    });
    match (result, refused) {
        (Ok(_), _) => Ok(done),
        (Err(_), Some(problem)) => Err(problem),
        (Err(e), None) => {
            let detail = format!("{e:#}");
            // A broken file, or a disk that refuses the write: nothing
            // changed, and the client may try again.
            tracing::warn!("api: inventory write of {} {name}: {detail}", kind.table());
            Err(Problem::new(503, detail))
        }
    }
}

/// `POST /api/v1/systems`: appended to the file as `awl system add` does
/// (milliseconds at 10,000 systems, where a whole edit takes a few
/// hundred), with the same answers as any other write: 409 for a taken
/// name, 422 naming entry and field.
fn create_system(cache: &InventoryCache, name: &str, body: &Value) -> Result<Done, Problem> {
    let mut refused: Option<Problem> = None;
    let result = cache.store().add_system(&mut |inventory| {
        // Asked again when the digest was out of date: only the last
        // answer counts. A taken name first, as for every other write.
        refused = None;
        if inventory.system(name).is_some() {
            let why = format!("a system named {name} exists (PUT replaces it)");
            refused = Some(Problem::new(409, why));
            return Err(anyhow!("refused"));
        }
        match system_of(name, body) {
            Ok(system) => Ok(system),
            Err(problem) => {
                refused = Some(problem);
                Err(anyhow!("refused"))
            }
        }
    });
    match (result, refused) {
        (Ok(()), _) => Ok(Done::Created),
        (Err(_), Some(problem)) => Err(problem),
        (Err(e), None) => Err(not_stored(e, name)),
    }
}

/// `PUT`, `PATCH` and `DELETE` of a system: only its own lines of the file
/// are rewritten ([`Store::replace_system`]), with the same answers as the
/// whole way; `None` for a `PUT` of a system that is not there (a create).
fn replace_system(
    cache: &InventoryCache,
    name: &str,
    change: &Change,
) -> Option<Result<Done, Problem>> {
    let mut refused: Option<Problem> = None;
    let result = cache.store().replace_system(name, &mut |old| {
        // Asked again when the fast way gave up: only the last counts.
        refused = None;
        let current = serde_json::to_value(&old).unwrap_or(Value::Null);
        let entry = match change {
            Change::Remove => return Ok(None),
            Change::Replace(body) | Change::Create(body) => entry_of(body, name),
            Change::Merge(patch) => {
                let mut entry = current.clone();
                merge(&mut entry, patch);
                entry_of(&entry, name)
            }
        };
        let made = entry.and_then(|mut entry| {
            keep_hidden_secrets(&mut entry, Some(&current));
            system_from(entry)
        });
        match made {
            Ok(system) => Ok(Some(system)),
            Err(problem) => {
                refused = Some(problem);
                Err(anyhow!("refused"))
            }
        }
    });
    match (result, refused) {
        (Ok(()), _) => Some(Ok(match change {
            Change::Remove => Done::Removed,
            _ => Done::Changed,
        })),
        (Err(_), Some(problem)) => Some(Err(problem)),
        (Err(e), None) if e.to_string() == format!("no system is named {name}") => match change {
            Change::Replace(_) => None,
            _ => Some(Err(Problem::new(404, e.to_string()))),
        },
        (Err(e), None) => Some(Err(not_stored(e, name))),
    }
}

/// A write of system `name` the store refused: the checks' problems as a
/// 422; anything else (a broken file, a full disk) a 503, logged.
fn not_stored(e: anyhow::Error, name: &str) -> Problem {
    match e.downcast_ref::<Invalid>() {
        Some(Invalid(problems)) => unprocessable(problems),
        None => {
            let detail = format!("{e:#}");
            tracing::warn!("api: inventory write of system {name}: {detail}");
            Problem::new(503, detail)
        }
    }
}

/// The body as the system `name`, read alone by the file's reader: its
/// own fields' problems, as a 422.
fn system_of(name: &str, body: &Value) -> Result<crate::inventory::model::System, Problem> {
    system_from(entry_of(body, name)?)
}

/// The entry (named) as a system, read alone by the file's reader.
fn system_from(entry: Value) -> Result<crate::inventory::model::System, Problem> {
    let entry = to_toml(entry)?;
    let mut doc = toml::Table::new();
    doc.insert("system".into(), toml::Value::Array(vec![entry]));
    let text = toml::to_string(&doc).map_err(|e| Problem::new(422, e.to_string()))?;
    let mut report = Report::new(None);
    let read = file::read_at(&text, 0, None, &mut report);
    let problems = report.finish();
    match read {
        Some((mut alone, _)) if problems.is_empty() => alone
            .systems
            .pop()
            .ok_or_else(|| Problem::new(422, "not a system")),
        _ => Err(unprocessable(&Problems(problems))),
    }
}

/// The inventory with the change made, read back by the file's reader
/// (what [`write`] stores; public for the fuzz target).
pub fn edit(
    inventory: &Inventory,
    kind: Kind,
    name: &str,
    change: &Change,
) -> Result<(Inventory, Done), Problem> {
    let text = file::to_toml(inventory).map_err(|e| Problem::new(500, e.to_string()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| Problem::new(500, e.to_string()))?;
    let list = doc
        .entry(kind.table())
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    let toml::Value::Array(list) = list else {
        return Err(Problem::new(500, "the inventory's list is not a list"));
    };
    let at = list
        .iter()
        .position(|e| e.get("name").and_then(toml::Value::as_str) == Some(name));
    let current = || at.map(|i| serde_json::to_value(&list[i]).unwrap_or(Value::Null));
    let done = match (change, at) {
        (Change::Remove, None) | (Change::Merge(_), None) => {
            return Err(Problem::new(
                404,
                format!("no {} is named {name}", kind.table()),
            ))
        }
        (Change::Create(_), Some(_)) => {
            return Err(Problem::new(
                409,
                format!("a {} named {name} exists (PUT replaces it)", kind.table()),
            ))
        }
        (Change::Remove, Some(i)) => {
            let users = kind.users(inventory, name);
            if !users.is_empty() {
                return Err(Problem::new(
                    409,
                    format!("{} {name} is used by {}", kind.table(), users.join(", ")),
                ));
            }
            list.remove(i);
            Done::Removed
        }
        (Change::Create(body) | Change::Replace(body), at) => {
            let mut entry = entry_of(body, name)?;
            keep_hidden_secrets(&mut entry, current().as_ref());
            let entry = to_toml(entry)?;
            match at {
                Some(i) => {
                    list[i] = entry;
                    Done::Changed
                }
                None => {
                    list.push(entry);
                    Done::Created
                }
            }
        }
        (Change::Merge(patch), Some(i)) => {
            let mut entry = current().unwrap_or(Value::Null);
            merge(&mut entry, patch);
            let mut entry = entry_of(&entry, name)?;
            keep_hidden_secrets(&mut entry, current().as_ref());
            list[i] = to_toml(entry)?;
            Done::Changed
        }
    };
    let text = toml::to_string(&doc).map_err(|e| Problem::new(422, e.to_string()))?;
    let read = file::parse(&text, inventory.path.as_deref()).map_err(|p| unprocessable(&p))?;
    Ok((read, done))
}

/// The body as an entry called `name`: an object whose `name`, if given,
/// is `name`.
fn entry_of(body: &Value, name: &str) -> Result<Value, Problem> {
    let Value::Object(fields) = body else {
        return Err(Problem::new(422, "the body is not a JSON object"));
    };
    match fields.get("name") {
        None => {}
        Some(Value::String(given)) if given == name => {}
        Some(given) => {
            return Err(Problem::new(
                422,
                format!("name: {given} is not {name}, the name in the path (to rename: create, then delete)"),
            ))
        }
    }
    let mut fields = fields.clone();
    fields.insert("name".into(), json!(name));
    Ok(Value::Object(fields))
}

/// A secret sent back as [`HIDDEN`] keeps its value.
fn keep_hidden_secrets(entry: &mut Value, current: Option<&Value>) {
    let Some(Value::Object(secrets)) = entry.get_mut("secrets") else {
        return;
    };
    for (name, value) in secrets.iter_mut() {
        if value == HIDDEN {
            if let Some(old) = current
                .and_then(|c| c.get("secrets"))
                .and_then(|s| s.get(name))
            {
                *value = old.clone();
            }
        }
    }
}

/// JSON to a TOML table; `null` has no TOML form.
fn to_toml(entry: Value) -> Result<toml::Value, Problem> {
    fn find_null(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::Null => Some(path.to_string()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find_null(v, &format!("{path}[{i}]"))),
            Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                find_null(
                    v,
                    &if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    },
                )
            }),
            _ => None,
        }
    }
    if let Some(path) = find_null(&entry, "") {
        return Err(Problem::new(
            422,
            format!("{path}: null is not a value here (leave the field out)"),
        ));
    }
    toml::Value::try_from(entry).map_err(|e| Problem::new(422, e.to_string()))
}

/// RFC 7396: objects merge, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(into) = target else {
        return;
    };
    for (k, v) in fields {
        if v.is_null() {
            into.remove(k);
        } else {
            merge(into.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The file reader's problems as a 422, without line numbers (they would
/// point into text that was never written).
fn unprocessable(problems: &Problems) -> Problem {
    let found: Vec<String> = problems
        .0
        .iter()
        .map(|p| {
            Found {
                file: None,
                pos: None,
                ..p.clone()
            }
            .to_string()
        })
        .collect();
    Problem::new(
        422,
        format!(
            "refused, the inventory would not be valid: {}",
            found.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7396() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge(
            &mut v,
            &json!({"a": null, "b": {"c": 5}, "e": [2], "f": "x"}),
        );
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [2], "f": "x"}));
    }

    #[test]
    fn edits_are_checked_by_the_file_reader() {
        let inventory = Inventory::default();
        let body = json!({"interface": [{"mac": "52:54:00:00:00:01"}], "netboot": "never"});
        let (read, done) = edit(&inventory, Kind::System, "a", &Change::Create(body)).unwrap();
        assert_eq!(done, Done::Created);
        assert_eq!(read.systems[0].name, "a");
        let bad = json!({"interface": [{"mac": "52:54:00"}]});
        let problem = edit(&read, Kind::System, "b", &Change::Create(bad)).unwrap_err();
        assert_eq!(problem.status, 422);
        assert!(
            problem.detail.contains("system[b].interface[0].mac"),
            "{}",
            problem.detail
        );
        let taken = edit(&read, Kind::System, "a", &Change::Create(json!({})));
        assert_eq!(taken.unwrap_err().status, 409);
        let renamed = edit(
            &read,
            Kind::System,
            "a",
            &Change::Replace(json!({"name": "z"})),
        );
        assert_eq!(renamed.unwrap_err().status, 422);
        let gone = edit(&read, Kind::System, "nope", &Change::Remove);
        assert_eq!(gone.unwrap_err().status, 404);
        let nulls = edit(
            &read,
            Kind::System,
            "a",
            &Change::Replace(json!({"uuid": null})),
        );
        assert!(nulls.unwrap_err().detail.starts_with("uuid: null"));
    }
}
