//! Errors as `application/problem+json` (RFC 9457): a status, a title
//! (the status's reason), and a detail that says what to change.

use serde_json::json;

use crate::http::Reply;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, for a person.
    pub detail: String,
}

impl Problem {
    /// A problem with this status and detail.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// The reply.
    pub fn reply(&self) -> Reply {
        let body = json!({
            "type": "about:blank",
            "title": title(self.status),
            "status": self.status,
            "detail": self.detail,
        });
        let reply = Reply::new(
            self.status,
            "application/problem+json",
            format!("{body:#}\n"),
        )
        .with_header("Cache-Control", "no-store");
        match self.status {
            401 => reply.with_header("WWW-Authenticate", "Bearer realm=\"awl\""),
            _ => reply,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, title(self.status), self.detail)
    }
}

impl std::error::Error for Problem {}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}
