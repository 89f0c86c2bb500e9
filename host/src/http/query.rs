//! Query strings (`?name=value&...`), as boot clients and API users send
//! them: percent-decoded, `+` for a space.

/// A query string's `name=value` pairs, percent-decoded.
pub struct Query {
    pairs: Vec<(String, String)>,
    /// Pairs left out: no `=`, or not decodable (as sent).
    skipped: Vec<String>,
}

impl Query {
    /// The pairs of `text` (what follows `?`); a pair without `=`, or
    /// that does not decode, is left out (and kept in [`Query::skipped`]).
    pub fn parse(text: &str) -> Self {
        let mut query = Self {
            pairs: Vec::new(),
            skipped: Vec::new(),
        };
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let decoded = pair
                .split_once('=')
                .and_then(|(k, v)| Some((decode(k)?, decode(v)?)));
            match decoded {
                Some(kv) => query.pairs.push(kv),
                None => query.skipped.push(pair.to_string()),
            }
        }
        query
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What was left out, as sent.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The value of `name` as given, empty too (`name=`).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The value of `name`, when it is there and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).filter(|v| !v.is_empty())
    }
}

/// `text` with `%XX` and `+` decoded; `None` when that is not UTF-8 or
/// a `%` is not followed by two hex digits.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let q = Query::parse("mac=52%3a54%3A00%3a12%3a34%3a56&uuid=&platform=pcbios&x");
        assert_eq!(q.get("mac"), Some("52:54:00:12:34:56"));
        assert_eq!(q.get("uuid"), None);
        assert_eq!(q.get("platform"), Some("pcbios"));
        assert!(Query::parse("a=%zz").get("a").is_none());
    }
}
