//! How failures reach the user: one sentence on stderr naming what and where, and an exit
//! code — 0 success (a closed pipe included), 1 runtime failure, 2 bad usage or bad input.

use clientele_analytics::{AnalyticsError, EngineError};
use clientele_ingest::IngestError;

/// An error in how the program was called (exit code 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::anyhow!(Usage(msg.into()))
}

/// A parameter as the terminal spells it: `window` → `--window `.
pub fn flag(name: &str) -> String {
    format!("--{} ", name.replace('_', "-"))
}

/// The error chain as one sentence; a library's parameter error names the flag.
pub fn render(e: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for c in e.chain() {
        if let Some(a) = c.downcast_ref::<AnalyticsError>() {
            // `describe` prints this error's own causes.
            parts.push(a.describe(flag));
            break;
        }
        parts.push(c.to_string());
    }
    parts.join(": ")
}

/// Whether the failure is only the reader of our output going away (`| head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}

/// 2 when the user can fix it (usage, input, data), 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for c in e.chain() {
        if c.downcast_ref::<Usage>().is_some() || c.downcast_ref::<clap::Error>().is_some() {
            return 2;
        }
        if let Some(x) = c.downcast_ref::<IngestError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<AnalyticsError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<EngineError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        #[cfg(feature = "server")]
        if let Some(x) = c.downcast_ref::<clientele_server::ServerError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<clientele_demo::DemoError>() {
            return if matches!(x, clientele_demo::DemoError::InvalidConfig(_)) {
                2
            } else {
                1
            };
        }
    }
    1
}
