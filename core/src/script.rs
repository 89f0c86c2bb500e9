/*! Boot scripts (iPXE scripts, and any other text a booting machine
fetches) rendered per machine from a template, without allocating.

A template is text with `{{name}}` placeholders. iPXE's own `${var}`
syntax passes through untouched, so a template can use both: `{{...}}` is
filled in by the server when the script is served, `${...}` by iPXE when it
runs it.

```text
#!ipxe
echo awl: booting {{mac}} ({{ip}}) from {{server}}
kernel {{mirror}}/images/pxeboot/vmlinuz inst.ks=http://{{server}}/ks/{{mac}}
```

Rendering is streamed: [`render`] writes the part of the output that
starts at a byte offset into a buffer of any size, so a TCP driver sends a
script of any length from a few hundred bytes of buffer, and the length
(for `Content-Length`) comes from the same function with an empty buffer.
Names are checked before a template is ever served ([`check`]: the
firmware's pack step and the host's config check call it), and a name
[`Vars`] does not know renders as nothing.
*/

use core::fmt::{self, Write};

/// The names a template may use, and what they hold.
pub const VARIABLES: &[(&str, &str)] = &[
    ("server", "this server's address"),
    (
        "mirror",
        "the mirror URL for kernels and install trees, no trailing '/'",
    ),
    ("mac", "the client's hardware address, aa:bb:cc:dd:ee:ff"),
    (
        "mac_dashes",
        "the client's hardware address, aa-bb-cc-dd-ee-ff",
    ),
    ("ip", "the client's address"),
    (
        "hostname",
        "the client's host name (empty when the inventory has none)",
    ),
];

/// Where a template's values come from.
pub trait Vars {
    /// Writes the value of `name` into `out`; `false` when the name is
    /// unknown (it then renders as nothing).
    fn write_var(&self, name: &str, out: &mut dyn Write) -> Result<bool, fmt::Error>;
}

/// A template that uses a name [`VARIABLES`] does not list, or leaves a
/// `{{` open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateError<'t> {
    /// Byte offset of the placeholder in the template.
    pub offset: usize,
    /// 1-based line of the placeholder.
    pub line: usize,
    /// The name (or the rest of the line for an unclosed `{{`).
    pub name: &'t str,
    /// What is wrong.
    pub reason: &'static str,
}

/// One piece of a template.
enum Piece<'t> {
    Text(&'t str),
    Var(&'t str),
    /// `{{` without `}}`: rendered as written.
    Unclosed(&'t str),
}

/// The pieces of `template`, each with its byte offset.
fn pieces(template: &str) -> impl Iterator<Item = (usize, Piece<'_>)> {
    let mut rest = template;
    let mut at = 0usize;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let start = at;
        let (piece, used) = match rest.find("{{") {
            Some(0) => match rest.get(2..).and_then(|r| r.find("}}")) {
                Some(end) => {
                    let name = rest.get(2..end.saturating_add(2)).unwrap_or("");
                    (Piece::Var(name.trim()), end.saturating_add(4))
                }
                None => (Piece::Unclosed(rest), rest.len()),
            },
            Some(i) => (Piece::Text(rest.get(..i).unwrap_or("")), i),
            None => (Piece::Text(rest), rest.len()),
        };
        rest = rest.get(used..).unwrap_or("");
        at = at.saturating_add(used);
        Some((start, piece))
    })
}

/// Checks that every placeholder in `template` names one of [`VARIABLES`].
pub fn check(template: &str) -> Result<(), TemplateError<'_>> {
    for (offset, piece) in pieces(template) {
        let line = template
            .get(..offset)
            .map_or(1, |b| b.matches('\n').count().saturating_add(1));
        match piece {
            Piece::Text(_) => {}
            Piece::Var(name) => {
                if !VARIABLES.iter().any(|(known, _)| *known == name) {
                    return Err(TemplateError {
                        offset,
                        line,
                        name,
                        reason: "unknown variable",
                    });
                }
            }
            Piece::Unclosed(rest) => {
                return Err(TemplateError {
                    offset,
                    line,
                    name: rest.lines().next().unwrap_or(""),
                    reason: "'{{' without '}}'",
                });
            }
        }
    }
    Ok(())
}

/// A `fmt::Write` that keeps the bytes of the output between `skip` and
/// `skip + out.len()` and counts them all.
struct Window<'o> {
    skip: u64,
    pos: u64,
    out: &'o mut [u8],
    written: usize,
}

impl Window<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let len = bytes.len() as u64;
        let end = self.pos.saturating_add(len);
        if end > self.skip && self.written < self.out.len() {
            let from = usize::try_from(self.skip.saturating_sub(self.pos)).unwrap_or(usize::MAX);
            let src = bytes.get(from..).unwrap_or(&[]);
            let room = self.out.len().saturating_sub(self.written);
            let n = src.len().min(room);
            if let (Some(dst), Some(src)) = (
                self.out
                    .get_mut(self.written..self.written.saturating_add(n)),
                src.get(..n),
            ) {
                dst.copy_from_slice(src);
                self.written = self.written.saturating_add(n);
            }
        }
        self.pos = end;
    }
}

impl Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Renders `template` with `vars` and copies the output from byte
/// `offset` on into `out`. Returns the bytes copied and the output's whole
/// length: call with an empty `out` for the length alone.
pub fn render(template: &str, vars: &dyn Vars, offset: u64, out: &mut [u8]) -> (usize, u64) {
    let mut w = Window {
        skip: offset,
        pos: 0,
        out,
        written: 0,
    };
    for (_, piece) in pieces(template) {
        match piece {
            Piece::Text(t) | Piece::Unclosed(t) => w.put(t.as_bytes()),
            // A value that fails to format renders as far as it got.
            Piece::Var(name) => {
                let _ = vars.write_var(name, &mut w);
            }
        }
    }
    (w.written, w.pos)
}

/// The common values: what the firmware and the host know of a client.
#[derive(Debug, Clone, Copy)]
pub struct ClientVars<'a> {
    /// This server's address.
    pub server: core::net::Ipv4Addr,
    /// The mirror URL.
    pub mirror: &'a str,
    /// The client's hardware address, when known.
    pub mac: Option<[u8; 6]>,
    /// The client's address.
    pub ip: core::net::Ipv4Addr,
    /// Its host name (empty: none).
    pub hostname: &'a str,
}

fn write_mac(out: &mut dyn Write, mac: [u8; 6], sep: char) -> fmt::Result {
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            out.write_char(sep)?;
        }
        write!(out, "{b:02x}")?;
    }
    Ok(())
}

impl Vars for ClientVars<'_> {
    fn write_var(&self, name: &str, out: &mut dyn Write) -> Result<bool, fmt::Error> {
        match name {
            "server" => write!(out, "{}", self.server)?,
            "mirror" => out.write_str(self.mirror.trim_end_matches('/'))?,
            "mac" => {
                if let Some(mac) = self.mac {
                    write_mac(out, mac, ':')?;
                }
            }
            "mac_dashes" => {
                if let Some(mac) = self.mac {
                    write_mac(out, mac, '-')?;
                }
            }
            "ip" => write!(out, "{}", self.ip)?,
            "hostname" => out.write_str(self.hostname)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use core::net::Ipv4Addr;

    fn vars() -> ClientVars<'static> {
        ClientVars {
            server: Ipv4Addr::new(10, 0, 0, 1),
            mirror: "http://mirror.example/debian/",
            mac: Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            ip: Ipv4Addr::new(10, 0, 0, 100),
            hostname: "node7",
        }
    }

    fn whole(template: &str) -> String {
        let (_, len) = render(template, &vars(), 0, &mut []);
        let mut buf = vec![0u8; len as usize];
        let (n, total) = render(template, &vars(), 0, &mut buf);
        assert_eq!((n as u64, total), (len, len));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn fills_names_and_leaves_ipxe_variables() {
        let t = "#!ipxe\necho {{mac}} {{ ip }} on {{server}} as {{hostname}}\n\
                 kernel {{mirror}}/linux ks=http://{{server}}/ks/{{mac_dashes}} ${net0/mac}\n";
        assert_eq!(
            whole(t),
            "#!ipxe\necho 52:54:00:12:34:56 10.0.0.100 on 10.0.0.1 as node7\n\
             kernel http://mirror.example/debian/linux ks=http://10.0.0.1/ks/52-54-00-12-34-56 ${net0/mac}\n"
        );
        assert_eq!(check(t), Ok(()));
    }

    #[test]
    fn check_names_the_line_of_a_bad_placeholder() {
        let err = check("#!ipxe\necho ok\nkernel {{kernel_url}}\n").unwrap_err();
        assert_eq!(
            (err.line, err.name, err.reason),
            (3, "kernel_url", "unknown variable")
        );
        let err = check("#!ipxe\necho {{mac\n").unwrap_err();
        assert_eq!((err.line, err.reason), (2, "'{{' without '}}'"));
        // Unknown and unclosed placeholders still render (as nothing, and
        // as written).
        assert_eq!(whole("a{{nope}}b{{mac"), "ab{{mac");
    }

    proptest! {
        /// Any window of the output, at any offset and buffer size, is
        /// the same bytes as the whole rendering.
        #[test]
        fn windows_agree_with_the_whole(
            template in "[a-z{}$ \n]{0,80}",
            chunk in 1usize..17,
        ) {
            let full = whole(&template);
            let mut pieces = Vec::new();
            let mut offset = 0u64;
            loop {
                let mut buf = vec![0u8; chunk];
                let (n, total) = render(&template, &vars(), offset, &mut buf);
                prop_assert_eq!(total, full.len() as u64);
                if n == 0 { break; }
                pieces.extend_from_slice(&buf[..n]);
                offset += n as u64;
            }
            prop_assert_eq!(String::from_utf8(pieces).unwrap(), full);
        }
    }
}
