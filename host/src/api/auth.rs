//! The API's bearer token: made at first start into `STATE_DIR/api-token`
//! (mode 0600: only root, or awl's user, reads it), read at every later
//! start, compared in constant time. There is no default password.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::http::Request;
use crate::lifecycle::{constant_time_eq, mint_token};

/// The token file in `dir`.
pub fn token_path(dir: &Path) -> PathBuf {
    dir.join("api-token")
}

/// The token in `dir`'s token file, made (256 random bits, hex) when
/// there is none. A token file others may read is refused: the token
/// would not be a secret.
pub fn load_or_create(dir: &Path) -> Result<String> {
    let path = token_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "{}: others may read it (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                );
            }
            let token = text.trim().to_string();
            if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                bail!(
                    "{}: not a token (32 or more printable characters)",
                    path.display()
                );
            }
            Ok(token)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
            let token = format!("{}{}", mint_token()?, mint_token()?);
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("{}: cannot create", path.display()))?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("{}: cannot write", path.display()))?;
            tracing::info!("api: made a bearer token in {}", path.display());
            Ok(token)
        }
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Whether `request` carries `Authorization: Bearer TOKEN` with this
/// token.
pub fn authorized(request: &Request<'_>, token: &str) -> bool {
    request
        .header("authorization")
        .and_then(|v| {
            let (scheme, value) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        })
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}
