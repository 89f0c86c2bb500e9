//! Filters for the languages answer files and boot configs are written in:
//! each makes a value safe to put in one place (a shell word, a GRUB word,
//! one line), so a host name or a key with an odd character cannot add a
//! command.
//!
//! | filter | gives |
//! |---|---|
//! | `shell_quote` | one POSIX shell word (`'it'\''s'`); also right for kickstart |
//! | `grub_quote` | one GRUB word (the same quoting; `(`, `)`, `[`, `]` left bare) |
//! | `grub_args` | a kernel command line for GRUB's `linux`: each argument with a GRUB special character (`;`, `$`, quotes, ...) quoted |
//! | `grub_path` | a URL as a GRUB file: `http://h:8080/k` → `(http,h:8080)/k`, `tftp://h/k` → `(tftp,h)/k` |
//! | `url_scheme`, `url_host`, `url_path`, `url_port` | parts of a URL: `http`, `h:8080`, `/debian`, `8080` (the scheme's default port when none is written) |
//! | `yaml` | a YAML value, written as JSON (strings in double quotes, lists in `[...]`), with no HTML escapes |
//! | `oneline` | line breaks turned into spaces (for line-based formats: preseed, pxelinux) |

use minijinja::{Environment, Error, ErrorKind, Value};

/// Registers every filter of this module.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("shell_quote", shell_quote);
    env.add_filter("grub_quote", grub_quote);
    env.add_filter("grub_args", grub_args);
    env.add_filter("grub_path", grub_path);
    env.add_filter("url_scheme", url_scheme);
    env.add_filter("url_host", url_host);
    env.add_filter("url_path", url_path);
    env.add_filter("url_port", url_port);
    env.add_filter("yaml", yaml);
    env.add_filter("oneline", oneline);
}

/// Characters that need no quoting in a shell or GRUB word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c)
}

/// One POSIX shell word: the text as is when it is plain, else in single
/// quotes with each `'` written `'\''`. GRUB's lexer reads the same.
pub fn shell_quote(text: &str) -> String {
    quote(text, is_plain)
}

/// One GRUB word: as [`shell_quote`], but device names such as
/// `(tftp,10.0.0.1)` and `[fe80::1]` need no quotes there.
pub fn grub_quote(text: &str) -> String {
    quote(text, |c| is_plain(c) || "()[]".contains(c))
}

fn quote(text: &str, plain: impl Fn(char) -> bool) -> String {
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A kernel command line for GRUB: split on white space, each argument
/// quoted when it needs it (GRUB would read `;` as a command separator and
/// expand `$`).
pub fn grub_args(args: &str) -> String {
    args.split_whitespace()
        .map(grub_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parts of a URL: scheme, authority (`host[:port]`), path (`/`
/// when none).
fn split_url(url: &str) -> Result<(&str, &str, &str), Error> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("{url:?} is not a URL (no scheme://)"),
        )
    })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    // user:password@ is not something a boot loader or installer can use.
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if host.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{url:?} has no host"),
        ));
    }
    Ok((scheme, host, if path.is_empty() { "/" } else { path }))
}

/// `http` from `http://h:8080/debian`.
pub fn url_scheme(url: &str) -> Result<String, Error> {
    split_url(url).map(|(scheme, _, _)| scheme.to_ascii_lowercase())
}

/// `h:8080` from `http://h:8080/debian`.
pub fn url_host(url: &str) -> Result<String, Error> {
    split_url(url).map(|(_, host, _)| host.to_string())
}

/// `/debian` from `http://h:8080/debian` (with any query).
pub fn url_path(url: &str) -> Result<String, Error> {
    split_url(url).map(|(_, _, path)| path.to_string())
}

/// The port of a URL: the written one, else the scheme's (`http` 80,
/// `https` 443, `tftp` 69, `ftp` 21).
pub fn url_port(url: &str) -> Result<u16, Error> {
    let (scheme, host, _) = split_url(url)?;
    // The port follows the last ':' unless that ':' is inside [IPv6].
    let written = host
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
        .map(|(_, port)| port);
    if let Some(port) = written {
        return port.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("{url:?} has a bad port"),
            )
        });
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Ok(80),
        "https" => Ok(443),
        "tftp" => Ok(69),
        "ftp" => Ok(21),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{url:?}: no port and no default port for its scheme"),
        )),
    }
}

/// A URL as a GRUB file name: `http://h/k` → `(http,h)/k`, quoted when
/// needed. A port is kept (`(http,h:8080)/k`), but only Red Hat's GRUB
/// reads one: upstream GRUB (Debian's, Ubuntu's) always connects to 80. A path
/// without a scheme is returned as is (relative to GRUB's `$root`).
pub fn grub_path(url: &str) -> Result<String, Error> {
    if !url.contains("://") {
        return Ok(grub_quote(url));
    }
    let (scheme, host, path) = split_url(url)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "tftp" {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{url:?}: GRUB fetches over http or tftp only"),
        ));
    }
    Ok(grub_quote(&format!("({scheme},{host}){path}")))
}

/// A YAML value: JSON is YAML, and `serde_json` escapes only what JSON
/// needs (minijinja's `tojson` also escapes `'`, `<`, `>` and `&` for
/// HTML, which YAML reads back right but people read badly).
pub fn yaml(value: &Value) -> Result<String, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    serde_json::to_string(value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, "cannot write as YAML").with_source(e))
}

/// Line breaks (and other control characters) turned into spaces.
pub fn oneline(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("console=ttyS0,115200n8"),
            "console=ttyS0,115200n8"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
    }

    #[test]
    fn grub_args_quotes_semicolons_and_dollars() {
        assert_eq!(
            grub_args("autoinstall  ds=nocloud-net;s=http://10.0.0.1/a/ quiet"),
            "autoinstall 'ds=nocloud-net;s=http://10.0.0.1/a/' quiet"
        );
        assert_eq!(grub_args("x=$y"), "'x=$y'");
    }

    #[test]
    fn grub_path_maps_http_and_tftp_urls() {
        assert_eq!(
            grub_path("http://10.0.0.1:8080/boot/vmlinuz").unwrap(),
            "(http,10.0.0.1:8080)/boot/vmlinuz"
        );
        assert_eq!(grub_path("tftp://10.0.0.1/k").unwrap(), "(tftp,10.0.0.1)/k");
        assert_eq!(grub_path("/k").unwrap(), "/k");
        assert!(grub_path("https://h/k").is_err());
    }

    #[test]
    fn url_parts() {
        let url = "http://user@deb.example:8080/debian?x=1";
        assert_eq!(url_scheme(url).unwrap(), "http");
        assert_eq!(url_host(url).unwrap(), "deb.example:8080");
        assert_eq!(url_path(url).unwrap(), "/debian?x=1");
        assert_eq!(url_path("http://h").unwrap(), "/");
        assert!(url_host("deb.example/debian").is_err());
        assert!(url_host("http:///x").is_err());
        assert_eq!(url_port(url).unwrap(), 8080);
        assert_eq!(url_port("http://h/x").unwrap(), 80);
        assert_eq!(url_port("tftp://h/x").unwrap(), 69);
        assert_eq!(url_port("http://[fe80::1]/x").unwrap(), 80);
        assert_eq!(url_port("http://[fe80::1]:81/x").unwrap(), 81);
        assert!(url_port("http://h:x/").is_err());
        assert!(url_port("gopher://h/").is_err());
    }

    #[test]
    fn yaml_writes_json_without_html_escapes() {
        let value = Value::from("it's <a> \"b\"\nc");
        assert_eq!(yaml(&value).unwrap(), r#""it's <a> \"b\"\nc""#);
        let list = Value::from(vec!["a", "b"]);
        assert_eq!(yaml(&list).unwrap(), r#"["a","b"]"#);
        assert!(yaml(&Value::UNDEFINED).is_err());
    }

    #[test]
    fn oneline_removes_line_breaks() {
        assert_eq!(oneline("a\nd-i x\r\n"), "a d-i x  ");
    }
}
