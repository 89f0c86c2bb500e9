//! Answer files (kickstart, preseed, autoinstall) and boot configs (GRUB,
//! pxelinux) rendered per request with minijinja.
//!
//! A [`Renderer`] holds one minijinja `Environment`: the built-in
//! templates (embedded), the user's templates and snippets folders (read
//! on first use and re-read when they change, so an edit is live on the
//! next request), the filters of [`filters`], and the limits below. Its
//! only input per request is a [`RenderContext`]: it keeps no output, so
//! a machine's secrets reach that machine's answer and nothing else.
//!
//! ```
//! use awl::render::{names, RenderContext, Renderer};
//!
//! let renderer = Renderer::builtin();
//! let kickstart = renderer.render(names::KICKSTART, &RenderContext::sample()).unwrap();
//! assert!(kickstart.contains("rootpw --iscrypted"));
//! ```
//!
//! # Names
//!
//! A template's name is its path relative to a templates folder
//! (`kickstart`, `boot/grub.cfg`, `snippets/callback.sh`). A name is looked
//! up in the snippets folder (names under `snippets/`), then the templates
//! folder, then the built-ins; so a user file with a built-in's name
//! replaces it, and any other name adds a template. Names with `..`, a
//! leading `/`, a `\` or a segment starting with `.` never reach the disk.
//!
//! # Limits and policy
//!
//! * **Fuel**: a render gets [`DEFAULT_FUEL`] units of work (one per
//!   instruction, plus one per 64 bytes of data produced); a runaway loop
//!   stops with an error ("engine ran out of fuel") instead of taking the
//!   server with it. The built-ins use well under 1% of it.
//! * **Recursion**: 100 levels of includes, macros and nesting
//!   ([`RECURSION_LIMIT`]): a template that includes itself fails fast.
//! * **Undefined values**: semi-strict. Printing or looping over a name
//!   that does not exist is an error naming the template and line (a typo
//!   such as `{{ sytem.hostname }}` must not install a machine with an
//!   empty host name: Cobbler's Cheetah and Foreman's ERB refuse undefined
//!   names too); testing one is fine, so optional variables read
//!   `{% if vars.ntp %}` or `{{ vars.timezone | default("Etc/UTC") }}`.
//! * **No auto-escaping**: these are not HTML; quoting is explicit, per
//!   language, with the [`filters`].
//! * Blocks trim their newline and leading blanks (`trim_blocks`,
//!   `lstrip_blocks`), and a file's last newline is kept.
//!
//! Errors are [`RenderError`]s, displayed `TEMPLATE:LINE: message`.

pub mod boot;
mod builtin;
pub mod context;
pub mod filters;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, ErrorKind, TemplateSource, UndefinedBehavior};
use serde::Serialize;

pub use boot::{
    grub_config_mac, grub_config_name, parse_boot_config_path, pxelinux_config_mac,
    pxelinux_config_name, BootConfigPath, ConfigKey, Loader, MenuContext, MenuEntry,
};
pub use context::{
    installer_kernel_args, DistroCtx, Family, InterfaceCtx, RenderContext, ServerCtx, SystemCtx,
    UrlsCtx, Vars,
};

/// The built-in templates' names.
pub mod names {
    /// Red Hat family: a complete kickstart.
    pub const KICKSTART: &str = "kickstart";
    /// Debian and Ubuntu's debian-installer: a complete preseed.
    pub const PRESEED: &str = "preseed";
    /// Ubuntu's subiquity: the NoCloud `user-data` (`#cloud-config` with
    /// `autoinstall:`).
    pub const AUTOINSTALL_USER_DATA: &str = "autoinstall/user-data";
    /// Ubuntu's subiquity: the NoCloud `meta-data`.
    pub const AUTOINSTALL_META_DATA: &str = "autoinstall/meta-data";
    /// A disk image: what awl's deploy environment reads (`key='value'`).
    pub const IMAGE_DEPLOY: &str = "image/deploy.conf";
    /// A disk image's first boot: the NoCloud `user-data` (cloud-init).
    pub const IMAGE_USER_DATA: &str = "image/user-data";
    /// A disk image's first boot: the NoCloud `meta-data`.
    pub const IMAGE_META_DATA: &str = "image/meta-data";
    /// GRUB: install this machine.
    pub const GRUB: &str = "boot/grub.cfg";
    /// GRUB: boot the local disk.
    pub const GRUB_LOCAL: &str = "boot/grub-local.cfg";
    /// GRUB: menu of profiles for unknown machines.
    pub const GRUB_MENU: &str = "boot/grub-menu.cfg";
    /// pxelinux: install this machine.
    pub const PXELINUX: &str = "boot/pxelinux.cfg";
    /// pxelinux: boot the local disk.
    pub const PXELINUX_LOCAL: &str = "boot/pxelinux-local.cfg";
    /// pxelinux: menu of profiles for unknown machines.
    pub const PXELINUX_MENU: &str = "boot/pxelinux-menu.cfg";
}

/// Work a render may do: about 1 000 000 instructions, or 64 MB of data.
pub const DEFAULT_FUEL: u64 = 1_000_000;

/// Nesting depth of includes, macros, loops and conditions.
pub const RECURSION_LIMIT: usize = 100;

/// Where user templates live, and the limits.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// User templates; a name is a path relative to it.
    pub templates_dir: Option<PathBuf>,
    /// User snippets: `snippets/NAME` is `NAME` in here.
    pub snippets_dir: Option<PathBuf>,
    /// Work allowed per render ([`DEFAULT_FUEL`]).
    pub fuel: u64,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            templates_dir: None,
            snippets_dir: None,
            fuel: DEFAULT_FUEL,
        }
    }
}

/// What went wrong, kept coarse for the caller (404 or 500, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderErrorKind {
    /// No template has that name.
    NotFound,
    /// The template does not parse.
    Syntax,
    /// The template ran out of fuel or recursion.
    Limit,
    /// Anything else while rendering (an undefined name, a bad filter
    /// argument, an unreadable file).
    Render,
}

/// A template that failed: which one, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// The template the error is in (an included snippet's own name).
    pub template: String,
    /// Its line, from 1, when known.
    pub line: Option<usize>,
    /// What happened.
    pub message: String,
    /// The kind of failure.
    pub kind: RenderErrorKind,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.template, line, self.message),
            None => write!(f, "{}: {}", self.template, self.message),
        }
    }
}

impl std::error::Error for RenderError {}

impl RenderError {
    /// From minijinja's error: the innermost template's name and line (an
    /// error in an included snippet names the snippet), and where the
    /// outermost template included it.
    fn new(requested: &str, err: &minijinja::Error) -> Self {
        let mut inner = err;
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            if let Some(e) = cause.downcast_ref::<minijinja::Error>() {
                inner = e;
            }
            source = cause.source();
        }
        let kind = match inner.kind() {
            ErrorKind::TemplateNotFound => RenderErrorKind::NotFound,
            ErrorKind::SyntaxError => RenderErrorKind::Syntax,
            ErrorKind::OutOfFuel => RenderErrorKind::Limit,
            ErrorKind::InvalidOperation
                if inner
                    .detail()
                    .is_some_and(|d| d.contains("recursion limit")) =>
            {
                RenderErrorKind::Limit
            }
            _ => RenderErrorKind::Render,
        };
        let mut message = inner.kind().to_string();
        if let Some(detail) = inner.detail() {
            message = format!("{message}: {detail}");
        }
        // A cause that is not minijinja's (a file that cannot be read).
        let mut source = std::error::Error::source(inner);
        while let Some(cause) = source {
            if cause.downcast_ref::<minijinja::Error>().is_none() {
                message = format!("{message}: {cause}");
            }
            source = cause.source();
        }
        let template = inner.name().unwrap_or(requested).to_string();
        let outer = err.name().unwrap_or(requested);
        if !std::ptr::eq(inner, err) && (outer != template || err.line() != inner.line()) {
            match err.line() {
                Some(line) => message = format!("{message} (included from {outer}:{line})"),
                None => message = format!("{message} (included from {outer})"),
            }
        }
        Self {
            template,
            line: inner.line(),
            message,
            kind,
        }
    }
}

/// A template to check: by name (built-in or user file), or a source
/// being edited, with the name errors should carry.
#[derive(Debug, Clone, Copy)]
pub enum TemplateRef<'a> {
    /// A template the renderer can find.
    Name(&'a str),
    /// A template's text, not saved anywhere yet.
    Source {
        /// The name errors carry.
        name: &'a str,
        /// The text.
        source: &'a str,
    },
}

impl<'a> From<&'a str> for TemplateRef<'a> {
    fn from(name: &'a str) -> Self {
        Self::Name(name)
    }
}

/// Renders templates; cheap to share (`Arc<Renderer>`), `Send + Sync`.
pub struct Renderer {
    env: Environment<'static>,
    config: RenderConfig,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// The built-in templates only.
    pub fn builtin() -> Self {
        Self::new(RenderConfig::default())
    }

    /// Built-ins plus the user's folders.
    pub fn new(config: RenderConfig) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(config.fuel));
        env.set_recursion_limit(RECURSION_LIMIT);
        // Errors then name what is undefined ("`sytem` is undefined").
        env.set_debug(true);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        filters::register(&mut env);
        let (templates, snippets) = (config.templates_dir.clone(), config.snippets_dir.clone());
        env.set_loader(move |name| load(templates.as_deref(), snippets.as_deref(), name));
        Self { env, config }
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &RenderConfig {
        &self.config
    }

    /// Renders template `name` for `ctx`.
    pub fn render(&self, name: &str, ctx: &RenderContext) -> Result<String, RenderError> {
        self.render_value(name, ctx)
    }

    /// Renders a template's text (not saved anywhere) for `ctx`; errors
    /// carry `name`. Its includes are found as usual.
    pub fn render_source(
        &self,
        name: &str,
        source: &str,
        ctx: &RenderContext,
    ) -> Result<String, RenderError> {
        let template = self
            .env
            .template_from_named_str(name, source)
            .map_err(|e| RenderError::new(name, &e))?;
        template
            .render(Serde(ctx))
            .map_err(|e| RenderError::new(name, &e))
    }

    /// Renders `name` with any serializable context (menus use their own).
    pub(crate) fn render_value<T: Serialize>(
        &self,
        name: &str,
        ctx: &T,
    ) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::new(name, &e))?;
        template
            .render(Serde(ctx))
            .map_err(|e| RenderError::new(name, &e))
    }

    /// Checks that a template parses and renders against `sample` (the
    /// inventory calls this when a profile is added or edited, `awl check`
    /// for every profile). Menu templates (`boot/*-menu.cfg`) are checked
    /// with a one-entry menu made from `sample`.
    pub fn check_template<'a>(
        &self,
        template: impl Into<TemplateRef<'a>>,
        sample: &RenderContext,
    ) -> Result<(), RenderError> {
        match template.into() {
            TemplateRef::Name(name) if name == names::GRUB_MENU || name == names::PXELINUX_MENU => {
                self.render_value(name, &MenuContext::sample(sample))
            }
            TemplateRef::Name(name) => self.render(name, sample),
            TemplateRef::Source { name, source } => self.render_source(name, source, sample),
        }
        .map(drop)
    }

    /// Checks a profile's answer-file template (a built-in's name, with
    /// `autoinstall` meaning its user-data, or a user template's) against
    /// [`RenderContext::sample`]: what a profile edit and `awl check` ask.
    pub fn check_answer_template(&self, template: &str) -> Result<(), RenderError> {
        let name = match template {
            "autoinstall" => names::AUTOINSTALL_USER_DATA,
            other => other,
        };
        self.check_template(name, &RenderContext::sample())
    }

    /// The names of every template: built-ins, and the files in the user's
    /// folders (snippets as `snippets/NAME`), sorted, each once.
    pub fn template_names(&self) -> Vec<String> {
        let mut out: Vec<String> = builtin::TEMPLATES
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        if let Some(dir) = &self.config.templates_dir {
            list_files(dir, "", 0, &mut out);
        }
        if let Some(dir) = &self.config.snippets_dir {
            list_files(dir, "snippets/", 0, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks every template but snippets (those are checked through the
    /// templates that include them); one error per broken template.
    pub fn check_all(&self, sample: &RenderContext) -> Vec<RenderError> {
        self.template_names()
            .iter()
            .filter(|name| !name.starts_with("snippets/"))
            .filter_map(|name| self.check_template(name.as_str(), sample).err())
            .collect()
    }
}

/// Whether `name` may be joined to a folder: relative, no `..`, no
/// hidden segment, no backslash or NUL.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['\\', '\0'])
        && name
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'))
}

/// The loader: the snippets folder, the templates folder, the built-ins.
/// A user file carries an up-to-date check (its modification time and
/// size), and so does a built-in (no user file has appeared with its
/// name), so edits take effect on the next render.
fn load(
    templates: Option<&Path>,
    snippets: Option<&Path>,
    name: &str,
) -> Result<Option<TemplateSource>, minijinja::Error> {
    if !safe_name(name) {
        return Ok(None);
    }
    let candidates: Vec<PathBuf> = name
        .strip_prefix("snippets/")
        .and_then(|rest| snippets.map(|dir| dir.join(rest)))
        .into_iter()
        .chain(templates.map(|dir| dir.join(name)))
        .collect();
    for path in &candidates {
        // The stamp is taken before reading, so a change racing with the
        // read shows at the next check.
        let Some(before) = stamp(path) else {
            continue;
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot read {}", path.display()),
            )
            .with_source(e)
        })?;
        let path = path.clone();
        let source =
            TemplateSource::new(text).with_uptodate_check(move || stamp(&path) == Some(before));
        return Ok(Some(source));
    }
    Ok(builtin::get(name).map(|text| {
        TemplateSource::new(text)
            .with_uptodate_check(move || candidates.iter().all(|path| stamp(path).is_none()))
    }))
}

/// What says a file changed: its modification time and size; `None`
/// when it is not a readable regular file.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then_some(())?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Adds the regular files under `dir` as `prefix` + relative path (hidden
/// ones skipped, 8 levels at most).
fn list_files(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() && depth < 8 {
            list_files(&path, &format!("{prefix}{name}/"), depth + 1, out);
        } else if path.is_file() {
            out.push(format!("{prefix}{name}"));
        }
    }
}

#[cfg(test)]
mod test;
