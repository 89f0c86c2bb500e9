//! Finding systems by what a person has in hand: a MAC from a DHCP log
//! line, an address, a hostname, a profile, an SMBIOS UUID (`cobbler
//! system find`, `hammer host list --search`). Used by `awl system list`
//! and `GET /api/v1/systems`.

use std::net::Ipv4Addr;

use super::model::{Mac, System, Uuid};

/// Which systems to show: every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemFilter {
    /// One of its interfaces has this MAC.
    pub mac: Option<Mac>,
    /// One of its interfaces has this fixed address.
    pub ip: Option<Ipv4Addr>,
    /// One of its interfaces has this hostname (letter case aside).
    pub hostname: Option<String>,
    /// It has this profile; `""`: it has none (a DHCP reservation).
    pub profile: Option<String>,
    /// Its SMBIOS UUID is this one, in either byte order (firmware sends
    /// both).
    pub uuid: Option<Uuid>,
}

impl SystemFilter {
    /// Whether `system` matches every field given.
    pub fn matches(&self, system: &System) -> bool {
        let ifc = &system.interfaces;
        self.mac.is_none_or(|mac| ifc.iter().any(|i| i.mac == mac))
            && self
                .ip
                .is_none_or(|ip| ifc.iter().any(|i| i.ip == Some(ip)))
            && self.hostname.as_deref().is_none_or(|h| {
                ifc.iter()
                    .filter_map(|i| i.hostname.as_deref())
                    .any(|mine| mine.eq_ignore_ascii_case(h))
            })
            && self
                .profile
                .as_deref()
                .is_none_or(|p| system.profile.as_deref().unwrap_or_default() == p)
            && self
                .uuid
                .is_none_or(|u| system.uuid.is_some_and(|s| s == u || s == u.swapped()))
    }

    /// The filter a query string asks for (`mac=…&ip=…&hostname=…&
    /// profile=…&uuid=…`, beside `show_secrets`), or what is wrong with
    /// it: a name it does not know (a typo must not list every system), a
    /// name given twice, an empty value (but `profile=`: no profile), a
    /// value that does not parse.
    pub fn from_query(query: &crate::http::query::Query) -> Result<Self, String> {
        const NAMES: [&str; 6] = ["mac", "ip", "hostname", "profile", "uuid", "show_secrets"];
        if let Some(pair) = query
            .skipped()
            .iter()
            .find(|p| p.as_str() != "show_secrets")
        {
            return Err(format!("{pair}: expected NAME=VALUE, percent-encoded"));
        }
        let mut seen = Vec::new();
        for (name, value) in query.pairs() {
            if !NAMES.contains(&name) {
                return Err(format!(
                    "{name}: not a filter (mac, ip, hostname, profile, uuid)"
                ));
            }
            if seen.contains(&name) {
                return Err(format!("{name}: given twice"));
            }
            seen.push(name);
            if value.is_empty() && !matches!(name, "profile" | "show_secrets") {
                return Err(format!("{name}=: empty"));
            }
        }
        fn parsed<T: std::str::FromStr>(
            query: &crate::http::query::Query,
            name: &str,
        ) -> Result<Option<T>, String>
        where
            T::Err: std::fmt::Display,
        {
            query
                .get(name)
                .map(|v| v.parse::<T>().map_err(|e| format!("{name}={v}: {e}")))
                .transpose()
        }
        Ok(Self {
            mac: parsed(query, "mac")?,
            ip: parsed(query, "ip")?,
            hostname: query.get("hostname").map(str::to_string),
            profile: query.raw("profile").map(str::to_string),
            uuid: parsed(query, "uuid")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::query::Query;
    use crate::inventory::model::Interface;

    fn system(name: &str, last: u8, profile: Option<&str>) -> System {
        System {
            name: name.into(),
            profile: profile.map(str::to_string),
            netboot: None,
            uuid: None,
            boot_file: None,
            kernel_args: String::new(),
            interfaces: vec![Interface {
                mac: format!("52:54:00:00:00:{last:02x}").parse().unwrap(),
                ip: Some(Ipv4Addr::new(10, 0, 0, last)),
                hostname: Some(format!("{name}.example")),
            }],
            vars: Default::default(),
            secrets: Default::default(),
            place: Default::default(),
        }
    }

    #[test]
    fn every_field_given_must_match() {
        let mut a = system("a", 1, Some("web"));
        a.uuid = Some("4c4c4544-0042-3510-8052-b4c04f333232".parse().unwrap());
        let b = system("b", 2, None);
        let all = [a.clone(), b.clone()];
        let names = |f: &SystemFilter| -> Vec<String> {
            all.iter()
                .filter(|s| f.matches(s))
                .map(|s| s.name.clone())
                .collect()
        };
        let q = |text: &str| SystemFilter::from_query(&Query::parse(text)).unwrap();
        assert_eq!(names(&q("")), ["a", "b"]);
        // A MAC as a DHCP log line or another tool writes it.
        assert_eq!(names(&q("mac=52-54-00-00-00-02")), ["b"]);
        assert_eq!(names(&q("mac=52%3A54%3A00%3A00%3A00%3A01")), ["a"]);
        assert_eq!(names(&q("ip=10.0.0.2")), ["b"]);
        assert_eq!(names(&q("hostname=A.EXAMPLE")), ["a"]);
        assert_eq!(names(&q("profile=web")), ["a"]);
        assert_eq!(names(&q("profile=")), ["b"], "no profile");
        // Either byte order of the UUID.
        assert_eq!(
            names(&q("uuid=4c4c4544-0042-3510-8052-b4c04f333232")),
            ["a"]
        );
        assert_eq!(
            names(&q("uuid=44454c4c-4200-1035-8052-b4c04f333232")),
            ["a"]
        );
        // Together: all of them.
        assert!(names(&q("mac=52:54:00:00:00:01&profile=")).is_empty());
        assert_eq!(names(&q("mac=52:54:00:00:00:01&ip=10.0.0.1")), ["a"]);
        // Bad values say which.
        let e = SystemFilter::from_query(&Query::parse("ip=10.0.0")).unwrap_err();
        assert!(e.starts_with("ip=10.0.0: "), "{e}");
        assert!(SystemFilter::from_query(&Query::parse("mac=zz")).is_err());
        // A typo, a name twice, an empty value, an undecodable pair: an
        // error, never every system.
        for (query, says) in [
            ("macc=52:54:00:00:00:01", "macc: not a filter"),
            (
                "mac=52:54:00:00:00:01&mac=52:54:00:00:00:02",
                "mac: given twice",
            ),
            ("mac=", "mac=: empty"),
            ("mac", "mac: expected NAME=VALUE"),
            ("hostname=%zz", "hostname=%zz: expected NAME=VALUE"),
        ] {
            let e = SystemFilter::from_query(&Query::parse(query)).unwrap_err();
            assert!(e.starts_with(says), "{query}: {e}");
        }
        assert!(SystemFilter::from_query(&Query::parse("show_secrets&profile=")).is_ok());
    }
}
