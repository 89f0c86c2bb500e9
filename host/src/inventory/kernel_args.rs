//! Kernel command lines: what one level writes, and how the levels merge.
//!
//! A level (a distro, each profile, a system) writes its arguments as one
//! string, split at spaces outside double quotes:
//!
//! * `key=value` or a bare `key` sets `key`;
//! * `-key` removes an inherited `key` (every value of it);
//! * a key may appear more than once in one level (`console=tty0
//!   console=ttyS0`): all of its values are kept, in order.
//!
//! Levels merge from the distro down to the system: a key that a level
//! sets replaces **every** inherited value of that key, at the place the
//! key first stood; a key that no level above had is appended. Tokens that
//! are not a removal because no letter follows the dash (`--`, `---`, the
//! installers' separators) are ordinary bare keys.

use std::fmt;

use serde::Serialize;

/// One token of a level's kernel arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelArg {
    /// `key` or `key=value` (the value as written, quotes included).
    Set {
        /// What comes before the first `=`.
        key: String,
        /// What comes after it; `None` for a bare key.
        value: Option<String>,
    },
    /// `-key`: drop what the levels above set for `key`.
    Remove(String),
}

impl KernelArg {
    /// The key it sets or removes.
    pub fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Remove(key) => key,
        }
    }
}

impl fmt::Display for KernelArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set { key, value: None } => f.write_str(key),
            Self::Set {
                key,
                value: Some(v),
            } => write!(f, "{key}={v}"),
            Self::Remove(key) => write!(f, "-{key}"),
        }
    }
}

/// Written as on the command line: `key=value`, `key`, `-key`.
impl Serialize for KernelArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Splits one level's arguments into tokens; an unclosed quote or a token
/// without a key (`=x`, `-key=value`) is an error.
pub fn parse(text: &str) -> Result<Vec<KernelArg>, String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err(format!("{text}: a double quote is not closed"));
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens.into_iter().map(|t| token(&t)).collect()
}

fn token(text: &str) -> Result<KernelArg, String> {
    let removal = text.strip_prefix('-').filter(|rest| {
        rest.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if let Some(key) = removal {
        if key.contains('=') {
            return Err(format!(
                "{text}: a removal names a key only (-{})",
                key.split('=').next().unwrap_or_default()
            ));
        }
        return Ok(KernelArg::Remove(key.to_string()));
    }
    let (key, value) = match text.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (text, None),
    };
    if key.is_empty() {
        return Err(format!("{text}: no key before ="));
    }
    Ok(KernelArg::Set {
        key: key.to_string(),
        value,
    })
}

/// Merges levels, top (distro) first, each with a tag saying where it
/// came from; returns the arguments that remain (only `Set`), each with
/// the tag of the level that set it.
pub fn merge<T: Clone>(levels: &[(T, Vec<KernelArg>)]) -> Vec<(KernelArg, T)> {
    let mut out: Vec<(KernelArg, T)> = Vec::new();
    for (tag, args) in levels {
        for arg in args {
            if let KernelArg::Remove(key) = arg {
                out.retain(|(a, _)| a.key() != key);
            }
        }
        // Keys this level sets, in the order it first sets them.
        let mut keys: Vec<&str> = Vec::new();
        for arg in args {
            if matches!(arg, KernelArg::Set { .. }) && !keys.contains(&arg.key()) {
                keys.push(arg.key());
            }
        }
        for key in keys {
            let mine = args
                .iter()
                .filter(|a| matches!(a, KernelArg::Set { .. }) && a.key() == key)
                .map(|a| (a.clone(), tag.clone()));
            match out.iter().position(|(a, _)| a.key() == key) {
                Some(at) => {
                    out.retain(|(a, _)| a.key() != key);
                    let tail = out.split_off(at);
                    out.extend(mine);
                    out.extend(tail);
                }
                None => out.extend(mine),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(levels: &[(&str, &str)]) -> String {
        let levels: Vec<(&str, Vec<KernelArg>)> = levels
            .iter()
            .map(|(tag, text)| (*tag, parse(text).unwrap()))
            .collect();
        merge(&levels)
            .iter()
            .map(|(a, tag)| format!("{a}@{tag}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn tokens_split_at_spaces_outside_quotes() {
        let args = parse("  quiet ks=\"http://x/a b\"  --- -splash ").unwrap();
        assert_eq!(
            args,
            vec![
                KernelArg::Set {
                    key: "quiet".into(),
                    value: None
                },
                KernelArg::Set {
                    key: "ks".into(),
                    value: Some("\"http://x/a b\"".into())
                },
                KernelArg::Set {
                    key: "---".into(),
                    value: None
                },
                KernelArg::Remove("splash".into()),
            ]
        );
        assert_eq!(args[1].to_string(), "ks=\"http://x/a b\"");
        assert!(parse("a=\"open").is_err());
        assert!(parse("=x").is_err());
        assert!(parse("-console=ttyS0").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn a_lower_level_replaces_a_key_in_place_and_appends_new_ones() {
        assert_eq!(
            line(&[
                ("d", "console=tty0 quiet priority=critical"),
                ("p", "console=ttyS0,115200 auto"),
                ("s", "priority=low"),
            ]),
            "console=ttyS0,115200@p quiet@d priority=low@s auto@p"
        );
    }

    #[test]
    fn a_removal_drops_every_inherited_value() {
        assert_eq!(
            line(&[
                ("d", "console=tty0 console=ttyS0 quiet"),
                ("p", "-console -nosuchkey"),
                ("s", "-quiet splash"),
            ]),
            "splash@s"
        );
    }

    #[test]
    fn repeated_keys_in_one_level_are_all_kept_and_replace_together() {
        assert_eq!(
            line(&[
                ("d", "a console=tty0 b console=ttyS0"),
                ("p", "console=tty1 console=ttyS1"),
            ]),
            "a@d console=tty1@p console=ttyS1@p b@d"
        );
        // Removing and setting in one level is setting.
        assert_eq!(line(&[("d", "x=1 y"), ("p", "-x x=2")]), "y@d x=2@p");
    }
}
