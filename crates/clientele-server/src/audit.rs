//! The audit log: one JSON line per access to customer-level data (who, when, what, which
//! customers), per login and logout, and per refused request (401 and 403), appended to
//! `<workspace>/access/audit.log` and never rewritten. Admins read it with `clientele audit`
//! or `GET /api/v1/audit`; the server answers pages from an index of the log that it extends
//! with each new line, rather than reading the whole file per request.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
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
    /// `ok` (data returned), `login`, `logout`, `unauthorized` (401: no or unknown
    /// credentials, a failed login among them) or `forbidden` (403: the role may not).
    #[serde(default = "ok")]
    pub outcome: String,
}

fn ok() -> String {
    "ok".into()
}

/// Where each line of the log is, and which lines name a user or a customer.
#[derive(Default)]
struct Index {
    /// Bytes of the file read into the index (always the end of a whole line).
    read_to: u64,
    /// Start and length of each line, oldest first.
    lines: Vec<(u64, u32)>,
    by_user: HashMap<String, Vec<u32>>,
    by_customer: HashMap<String, Vec<u32>>,
}

/// The append-only log of one workspace.
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
    index: Mutex<Index>,
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
            index: Mutex::new(Index::default()),
        }
    }

    /// Appends an event that returned no customer data: a login, a logout, a refusal.
    pub fn record_event(
        &self,
        user: &str,
        role: &str,
        action: &str,
        outcome: &str,
        request_id: &str,
    ) -> Result<(), ServerError> {
        self.append(AuditEntry {
            at: now(),
            user: user.to_string(),
            role: role.to_string(),
            action: action.to_string(),
            customers: Vec::new(),
            request_id: request_id.to_string(),
            outcome: outcome.to_string(),
        })
    }

    /// A page of the log, newest first, with the number of entries that match.
    pub fn page(
        &self,
        user: Option<&str>,
        customer: Option<&str>,
        page: usize,
        size: usize,
    ) -> Result<(usize, Vec<AuditEntry>), ServerError> {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        self.extend(&mut index)?;
        let all: Vec<u32>;
        let empty = Vec::new();
        let chosen: &[u32] = match (user, customer) {
            (None, None) => {
                all = (0..index.lines.len() as u32).collect();
                &all
            }
            (Some(u), None) => index.by_user.get(u).unwrap_or(&empty),
            (None, Some(c)) => index.by_customer.get(c).unwrap_or(&empty),
            (Some(u), Some(c)) => {
                let of_user = index.by_user.get(u).unwrap_or(&empty);
                let of_customer = index.by_customer.get(c).unwrap_or(&empty);
                all = of_user
                    .iter()
                    .filter(|i| of_customer.binary_search(i).is_ok())
                    .copied()
                    .collect();
                &all
            }
        };
        let total = chosen.len();
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, Vec::new())),
            Err(e) => return Err(io(&self.path, "read", e)),
        };
        let mut out = Vec::new();
        for &i in chosen.iter().rev().skip((page - 1) * size).take(size) {
            let (start, len) = index.lines[i as usize];
            let mut buf = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(&mut buf))
                .map_err(|e| io(&self.path, "read", e))?;
            out.push(parse(&self.path, i as usize, &buf)?);
        }
        Ok((total, out))
    }

    /// Reads the lines appended since the last call into the index (all of them when the
    /// file was replaced by a shorter one).
    fn extend(&self, index: &mut Index) -> Result<(), ServerError> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *index = Index::default();
                return Ok(());
            }
            Err(e) => return Err(io(&self.path, "read", e)),
        };
        let len = file
            .metadata()
            .map_err(|e| io(&self.path, "read", e))?
            .len();
        if len < index.read_to {
            *index = Index::default();
        }
        if len == index.read_to {
            return Ok(());
        }
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(index.read_to))
            .and_then(|_| file.take(len - index.read_to).read_to_end(&mut tail))
            .map_err(|e| io(&self.path, "read", e))?;
        // Only whole lines: a line being written now is read on the next call.
        let whole = tail.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let mut start = 0;
        for line in tail[..whole].split_inclusive(|b| *b == b'\n') {
            let offset = index.read_to + start as u64;
            start += line.len();
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let n = index.lines.len();
            let entry = parse(&self.path, n, text)?;
            index.lines.push((offset, text.len() as u32));
            index.by_user.entry(entry.user).or_default().push(n as u32);
            for c in entry.customers {
                let of = index.by_customer.entry(c).or_default();
                if of.last() != Some(&(n as u32)) {
                    of.push(n as u32);
                }
            }
        }
        index.read_to += whole as u64;
        Ok(())
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
        self.append(AuditEntry {
            at: now(),
            user: caller.name.clone(),
            role: caller.role.name().to_string(),
            action: action.to_string(),
            customers,
            request_id: request_id.to_string(),
            outcome: ok(),
        })
    }

    fn append(&self, entry: AuditEntry) -> Result<(), ServerError> {
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn io(path: &Path, what: &str, e: std::io::Error) -> ServerError {
    ServerError::Io(format!("cannot {what} {}: {e}", path.display()))
}

/// One line of the log (`n` counts from 0).
fn parse(path: &Path, n: usize, line: &[u8]) -> Result<AuditEntry, ServerError> {
    serde_json::from_slice(line).map_err(|e| {
        ServerError::Usage(format!(
            "{} line {}: not an audit entry: {e}",
            path.display(),
            n + 1
        ))
    })
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
