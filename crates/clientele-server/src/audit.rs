//! The audit log: one JSON line per access to customer-level data (who, when, what, which
//! customers), appended to `<workspace>/access/audit.log` and never rewritten. Admins read it
//! with `clientele audit` or `GET /api/v1/audit`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::ServerError;
use crate::access::Caller;

/// One audited access.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The user name (`local` when the server runs without authentication).
    pub user: String,
    /// The user's role.
    pub role: String,
    /// What was accessed: method and path with its query.
    pub action: String,
    /// The customers whose data was returned (ids; at most the page shown).
    pub customers: Vec<String>,
    /// The request id, to find the matching server log lines.
    pub request_id: String,
}

/// The append-only log of one workspace.
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

/// Where a workspace's audit log is.
pub fn audit_path(workspace: &Path) -> PathBuf {
    workspace.join("access").join("audit.log")
}

impl AuditLog {
    /// The log of a workspace (created on the first entry).
    pub fn new(workspace: &Path) -> AuditLog {
        AuditLog {
            path: audit_path(workspace),
            lock: Mutex::new(()),
        }
    }

    /// Appends an entry. The whole line is written with one `write` on a file opened for
    /// appending, so concurrent writers never interleave within a line.
    pub fn record(
        &self,
        caller: &Caller,
        action: &str,
        customers: Vec<String>,
        request_id: &str,
    ) -> Result<(), ServerError> {
        let entry = AuditEntry {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user: caller.name.clone(),
            role: caller.role.name().to_string(),
            action: action.to_string(),
            customers,
            request_id: request_id.to_string(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| ServerError::Io(e.to_string()))?;
        line.push(b'\n');
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ServerError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| ServerError::Io(format!("cannot open {}: {e}", self.path.display())))?;
        file.write_all(&line)
            .map_err(|e| ServerError::Io(format!("cannot write {}: {e}", self.path.display())))
    }
}

/// Reads the audit log of a workspace, oldest first, keeping the entries that match.
pub fn read_audit(
    workspace: &Path,
    user: Option<&str>,
    customer: Option<&str>,
) -> Result<Vec<AuditEntry>, ServerError> {
    let path = audit_path(workspace);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ServerError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: AuditEntry = serde_json::from_str(line).map_err(|e| {
            ServerError::Usage(format!(
                "{} line {}: not an audit entry: {e}",
                path.display(),
                i + 1
            ))
        })?;
        if user.is_some_and(|u| entry.user != u) {
            continue;
        }
        if customer.is_some_and(|c| !entry.customers.iter().any(|x| x == c)) {
            continue;
        }
        out.push(entry);
    }
    Ok(out)
}
