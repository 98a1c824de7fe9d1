//! Who may do what: users with roles and API tokens, dashboard sessions, what each role may
//! see, and the masking of personal data.
//!
//! Users live in `<workspace>/access/users.json`, each with the SHA-256 of its token: the
//! token itself is printed once by `clientele users add` and never stored. Tokens are 32
//! random bytes, so a plain hash (no salt, no stretching) is enough: nobody can guess one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ServerError;

/// A role: decides which pages and endpoints a user sees and whether personal data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users and the audit log; personal data shown.
    Admin,
    /// Every report and analysis; personal data masked.
    Analyst,
    /// Sales, pipeline, customers and leads; personal data shown (they call customers).
    SalesManager,
    /// Campaign-facing views: campaigns, segments, CLV, churn, cohorts, leads; personal data
    /// masked.
    MarketingManager,
}

/// The role names, for messages.
pub const ROLES: &str = "admin, analyst, sales_manager, marketing_manager";

impl std::str::FromStr for Role {
    type Err = ServerError;
    fn from_str(s: &str) -> Result<Role, ServerError> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "admin" => Role::Admin,
                "analyst" => Role::Analyst,
                "sales_manager" | "sales" => Role::SalesManager,
                "marketing_manager" | "marketing" => Role::MarketingManager,
                other => {
                    return Err(ServerError::Usage(format!(
                        "unknown role '{other}': expected one of {ROLES}"
                    )));
                }
            },
        )
    }
}

/// An area of the product; endpoints and dashboard pages each belong to one (declared with
/// the analyses, which name theirs).
pub use clientele_analytics::Area;

impl Role {
    /// The role's name as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::SalesManager => "sales_manager",
            Role::MarketingManager => "marketing_manager",
        }
    }

    /// Whether the role may use an area.
    pub fn may(self, area: Area) -> bool {
        use Area::*;
        match self {
            Role::Admin => true,
            Role::Analyst => area != Admin,
            Role::SalesManager => matches!(area, Overview | Sales | Pipeline | Customers | Leads),
            Role::MarketingManager => {
                matches!(
                    area,
                    Overview | Sales | Customers | Segments | Campaigns | Leads
                )
            }
        }
    }

    /// Whether names, emails and phone numbers are shown unmasked.
    pub fn sees_personal_data(self) -> bool {
        matches!(self, Role::Admin | Role::SalesManager)
    }

    /// The dashboard page the role lands on.
    pub fn home(self) -> &'static str {
        match self {
            Role::Admin | Role::Analyst => "overview",
            Role::SalesManager => "sales",
            Role::MarketingManager => "campaigns",
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// When the user was created (RFC 3339).
    pub created_at: String,
}

/// The caller of a request: who, and with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User name (`local` without authentication).
    pub name: String,
    /// Role.
    pub role: Role,
}

fn users_path(workspace: &Path) -> PathBuf {
    workspace.join("access").join("users.json")
}

pub(crate) fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the users of a workspace (none when the file does not exist yet).
pub fn load_users(workspace: &Path) -> Result<Vec<User>, ServerError> {
    let path = users_path(workspace);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ServerError::Usage(format!("{} is not a valid users file: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ServerError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn store_users(workspace: &Path, users: &[User]) -> Result<(), ServerError> {
    let path = users_path(workspace);
    let dir = path.parent().expect("users file has a folder");
    std::fs::create_dir_all(dir)
        .map_err(|e| ServerError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ServerError::Io(format!("cannot write {}: {e}", dir.display())))?;
    serde_json::to_writer_pretty(tmp.as_file(), users)
        .map_err(|e| ServerError::Io(format!("cannot write {}: {e}", path.display())))?;
    tmp.persist(&path)
        .map_err(|e| ServerError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// Creates a user and returns its token, which is shown this once and never stored.
pub fn add_user(workspace: &Path, name: &str, role: Role) -> Result<String, ServerError> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
    {
        return Err(ServerError::Usage(format!(
            "user name '{name}' must be 1–64 letters, digits or _ - . @"
        )));
    }
    let mut users = load_users(workspace)?;
    if users.iter().any(|u| u.name == name) {
        return Err(ServerError::Usage(format!("user '{name}' already exists")));
    }
    let token = format!("clt_{}", random_hex(32));
    users.push(User {
        name: name.to_string(),
        role,
        token_sha256: sha256_hex(&token),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    store_users(workspace, &users)?;
    Ok(token)
}

/// Removes a user; its token stops working at the server's next request.
pub fn remove_user(workspace: &Path, name: &str) -> Result<(), ServerError> {
    let mut users = load_users(workspace)?;
    let before = users.len();
    users.retain(|u| u.name != name);
    if users.len() == before {
        return Err(ServerError::Usage(format!("there is no user '{name}'")));
    }
    store_users(workspace, &users)
}

/// Finds the user a token belongs to (the server keeps its own cached copy of the users).
#[cfg(test)]
fn authenticate(workspace: &Path, token: &str) -> Result<Option<Caller>, ServerError> {
    let hash = sha256_hex(token.trim());
    Ok(load_users(workspace)?
        .into_iter()
        .find(|u| u.token_sha256 == hash)
        .map(|u| Caller {
            name: u.name,
            role: u.role,
        }))
}

/// How long a dashboard session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

/// How long a dashboard session lasts at most, however active: a stolen cookie stops working
/// by the end of the day, and a user logs in again at least once a day.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// One dashboard session: which token it was opened with (the user is looked up by it on
/// every request, so a removed user or a changed role takes effect at once), and when it
/// started and was last used.
struct Session {
    token_sha256: String,
    started: Instant,
    seen: Instant,
}

impl Session {
    fn live(&self) -> bool {
        self.seen.elapsed() < SESSION_IDLE && self.started.elapsed() < SESSION_LIFETIME
    }
}

/// Dashboard sessions: a random id in an HttpOnly cookie, mapped in memory to the hash of
/// the token the user logged in with (a restart logs everyone out, which is the safe
/// direction). A session ends at logout, after [`SESSION_IDLE`] without use, after
/// [`SESSION_LIFETIME`] in all, or when its user's token is no longer in `users.json`.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for the holder of a token (given as its hash) and returns its id.
    pub fn start(&self, token_sha256: &str) -> String {
        let id = random_hex(32);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.live());
        let now = Instant::now();
        map.insert(
            id.clone(),
            Session {
                token_sha256: token_sha256.to_string(),
                started: now,
                seen: now,
            },
        );
        id
    }

    /// The token hash of a live session, refreshing its idle timer (never its lifetime).
    pub fn token_of(&self, id: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(id) {
            Some(s) if s.live() => {
                s.seen = Instant::now();
                Some(s.token_sha256.clone())
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    #[cfg(test)]
    fn age(&self, id: &str, by: Duration) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(id) {
            s.started -= by;
        }
    }
}

/// Columns holding personal data, masked (recognisably, see [`mask`]) for roles that do not
/// see it; extra source columns are masked too (see `privacy.rs`).
pub const PERSONAL_COLUMNS: &[&str] = &[
    "email",
    "phone",
    "first_name",
    "last_name",
    "customer_name",
    "birth_date",
    "postal_code",
    "address",
    "city",
];

/// Masks a personal value, keeping just enough to recognise a record: emails keep the first
/// letter of the local part and of the domain and the top-level domain (`j***@e***.com`),
/// phone numbers their last two digits, names their first letter.
pub fn mask(column: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    match column {
        "email" => match value.split_once('@') {
            Some((local, domain)) => {
                let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
                let tld = if tld.is_empty() {
                    String::new()
                } else {
                    format!(".{tld}")
                };
                format!("{}***@{}***{tld}", first(local), first(host))
            }
            None => format!("{}***", first(value)),
        },
        "phone" => {
            let digits: Vec<char> = value.chars().filter(|c| c.is_ascii_digit()).collect();
            let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
            format!("***{tail}")
        }
        _ => value
            .split(' ')
            .map(|w| {
                if w.is_empty() {
                    String::new()
                } else {
                    format!("{}***", first(w))
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_a_recognisable_minimum() {
        assert_eq!(mask("email", "john.doe@example.com"), "j***@e***.com");
        assert_eq!(mask("email", "x@localhost"), "x***@l***");
        assert_eq!(mask("phone", "+1 (555) 010-2034"), "***34");
        assert_eq!(mask("customer_name", "Ada Lovelace"), "A*** L***");
        assert_eq!(mask("first_name", "Émile"), "É***");
        assert_eq!(mask("email", ""), "");
    }

    #[test]
    fn roles_decide_areas_and_personal_data() {
        assert!(Role::Admin.may(Area::Admin));
        assert!(!Role::Analyst.may(Area::Admin));
        assert!(!Role::SalesManager.may(Area::Segments));
        assert!(!Role::MarketingManager.may(Area::Pipeline));
        assert!(Role::SalesManager.sees_personal_data());
        assert!(!Role::MarketingManager.sees_personal_data());
        assert_eq!("sales-manager".parse::<Role>().unwrap(), Role::SalesManager);
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn a_session_ends_after_its_lifetime_however_active() {
        let sessions = Sessions::default();
        let id = sessions.start("abc");
        assert_eq!(sessions.token_of(&id).as_deref(), Some("abc"));
        sessions.age(&id, SESSION_LIFETIME);
        assert_eq!(
            sessions.token_of(&id),
            None,
            "used a moment ago, but too old"
        );
        assert_eq!(sessions.token_of(&id), None, "and it is gone");
        assert_eq!(sessions.token_of("unknown"), None);
    }

    #[test]
    fn tokens_are_stored_only_as_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let token = add_user(dir.path(), "ann", Role::Analyst).unwrap();
        let text = std::fs::read_to_string(users_path(dir.path())).unwrap();
        assert!(!text.contains(&token));
        assert!(text.contains(&sha256_hex(&token)));
        let caller = authenticate(dir.path(), &token).unwrap().unwrap();
        assert_eq!(caller.name, "ann");
        assert_eq!(authenticate(dir.path(), "clt_wrong").unwrap(), None);
        assert!(add_user(dir.path(), "ann", Role::Admin).is_err());
        remove_user(dir.path(), "ann").unwrap();
        assert_eq!(authenticate(dir.path(), &token).unwrap(), None);
    }
}
