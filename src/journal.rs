//! The durable record of fleet changes under `--state-dir`: each plan as one JSON file, each
//! change as an append-only JSON Lines journal (an intent line fsync'd before every write, its
//! outcome after, like the audit log), and for a change being rolled out a lease file its runner
//! touches and a stop file that asks it to stop. Replicas that share the directory see each
//! other's changes, and a stop asked on one reaches the runner on another.
//!
//! Plan tokens are sealed with the server's state key and bound to the plan file's bytes, so a
//! token is accepted by every replica sharing the key and the directory, and by none once the
//! plan file differs from what was sealed.
use crate::safety::audit::AuditLog;
use crate::safety::scope::Scope;
use rmcp::model::{RequestStateCodec, SealOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// How often a runner touches its lease, and how old a lease may be before its change counts
/// as interrupted.
pub const LEASE_EVERY: Duration = Duration::from_secs(1);
const LEASE_STALE: Duration = Duration::from_secs(5);

/// The change records of one server, and what its rollouts share with the calls.
pub struct Journal {
    /// None: no state directory (tests that need none); the fleet change tools say so.
    dir: Option<PathBuf>,
    codec: RequestStateCodec,
    /// Every part's write is audited like a call.
    pub audit: Option<AuditLog>,
    /// Every target of a change must be inside it.
    pub scope: Scope,
    /// The changes this process is rolling out, with the token that stops each.
    running: Mutex<HashMap<String, CancellationToken>>,
    /// One lock per change journal, so concurrent lines never interleave.
    files: Mutex<HashMap<String, Arc<Mutex<File>>>>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new(None, rand::random::<[u8; 32]>().to_vec(), None, Scope::default())
            .expect("a 32-byte key is long enough")
    }
}

/// `$XDG_STATE_HOME/viam-fleet-mcp`, else `~/.local/state/viam-fleet-mcp`.
pub fn default_state_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = || std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state"));
    xdg.or_else(home).map(|base| base.join("viam-fleet-mcp"))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("the fleet change journal could not {what} {}: {e}", path.display())
}

impl Journal {
    /// The journal in `dir` (created on first use), sealing with `key` (at least 32 bytes).
    pub fn new(dir: Option<PathBuf>, key: Vec<u8>, audit: Option<AuditLog>, scope: Scope) -> Result<Self, String> {
        let codec = RequestStateCodec::try_new(key).map_err(|e| format!("the state key is not usable: {e}"))?;
        Ok(Self { dir, codec, audit, scope, running: Mutex::default(), files: Mutex::default() })
    }

    fn dir(&self, sub: &str) -> Result<PathBuf, String> {
        let dir = self.dir.as_ref().ok_or("no state directory is configured: start the server with --state-dir")?;
        let dir = dir.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        Ok(dir)
    }

    /// Writes a plan (atomically: a temporary file renamed into place) and returns its bytes.
    pub fn save_plan(&self, plan_id: &str, plan: &Value) -> Result<Vec<u8>, String> {
        let dir = self.dir("plans")?;
        let bytes = serde_json::to_vec(plan).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{plan_id}.json"));
        let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io_error("write in", &dir, e))?;
        file.write_all(&bytes).and_then(|_| file.as_file().sync_data()).map_err(|e| io_error("write", &path, e))?;
        file.persist(&path).map_err(|e| io_error("write", &path, e.error))?;
        Ok(bytes)
    }

    /// A plan's bytes, as saved.
    pub fn plan_bytes(&self, plan_id: &str) -> Result<Vec<u8>, String> {
        if !is_id(plan_id) {
            return Err(format!("{plan_id:?} is not a plan id"));
        }
        let path = self.dir("plans")?.join(format!("{plan_id}.json"));
        std::fs::read(&path).map_err(|e| io_error("read", &path, e))
    }

    /// Marks a plan applied by `change_id`, once: a plan already applied gives the change that did.
    pub fn claim_plan(&self, plan_id: &str, change_id: &str) -> Result<(), String> {
        let path = self.dir("plans").map_err(|e| e.to_string())?.join(format!("{plan_id}.applied"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(change_id.as_bytes()).and_then(|_| file.sync_data()).map_err(|e| e.to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(std::fs::read_to_string(&path).unwrap_or_else(|_| "another change".into()))
            }
            Err(e) => Err(io_error("write", &path, e)),
        }
    }

    /// Seals `value`, bound to `bound_to` (a plan's bytes), for `ttl`.
    pub fn seal<T: Serialize>(&self, value: &T, bound_to: &[u8], ttl: Duration) -> Result<String, String> {
        let options = SealOptions::new().associated_data(bound_to).ttl(ttl);
        self.codec.seal_json_with(value, &options).map_err(|e| format!("cannot seal the plan: {e}"))
    }

    pub fn open<T: DeserializeOwned>(&self, sealed: &str, bound_to: &[u8]) -> Result<T, String> {
        self.codec.open_json_with(sealed, bound_to).map_err(|e| e.to_string())
    }

    fn journal_path(&self, change_id: &str) -> Result<PathBuf, String> {
        if !is_id(change_id) {
            return Err(format!("{change_id:?} is not a change id"));
        }
        Ok(self.dir("changes")?.join(format!("{change_id}.jsonl")))
    }

    /// Appends one line to a change's journal and fsyncs it, off the async runtime.
    pub async fn append(&self, change_id: &str, line: &Value) -> Result<(), String> {
        let path = self.journal_path(change_id)?;
        let file = {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            match files.get(change_id) {
                Some(file) => file.clone(),
                None => {
                    let mut options = std::fs::OpenOptions::new();
                    options.append(true).create(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    let file = Arc::new(Mutex::new(options.open(&path).map_err(|e| io_error("open", &path, e))?));
                    files.insert(change_id.to_string(), file.clone());
                    file
                }
            }
        };
        let mut bytes = serde_json::to_vec(line).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        tokio::task::spawn_blocking(move || {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            file.write_all(&bytes).and_then(|_| file.sync_data()).map_err(|e| io_error("write", &path, e))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Every whole line of a change's journal; a line cut short by a crash is left out.
    pub fn lines(&self, change_id: &str) -> Result<Vec<Value>, String> {
        let path = self.journal_path(change_id)?;
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("no fleet change has the id {change_id:?} (list_fleet_changes)"),
            _ => io_error("read", &path, e),
        })?;
        let reader = std::io::BufReader::new(file);
        Ok(reader.lines().map_while(Result::ok).filter_map(|line| serde_json::from_str(&line).ok()).collect())
    }

    /// The recorded change ids, newest first (ids sort by creation time).
    pub fn change_ids(&self) -> Result<Vec<String>, String> {
        let dir = self.dir("changes")?;
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error("list", &dir, e))?;
        let mut ids: Vec<String> = entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".jsonl").map(String::from))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Marks a change as rolled out by this process, and returns the token that stops it.
    pub fn start_running(&self, change_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(change_id.to_string(), token.clone());
        self.touch_lease(change_id);
        token
    }

    pub fn finish_running(&self, change_id: &str) {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(change_id);
        self.files.lock().unwrap_or_else(|p| p.into_inner()).remove(change_id);
        if let Ok(dir) = self.dir("changes") {
            let _ = std::fs::remove_file(dir.join(format!("{change_id}.lease")));
        }
    }

    /// Shows that the runner is alive: a change whose lease is stale counts as interrupted.
    pub fn touch_lease(&self, change_id: &str) {
        let Ok(dir) = self.dir("changes") else { return };
        let path = dir.join(format!("{change_id}.lease"));
        if let Err(e) = std::fs::write(&path, b"") {
            tracing::warn!("cannot touch {}: {e}", path.display());
        }
    }

    /// Whether some process (this one, or a replica sharing the directory) is rolling it out.
    pub fn is_running(&self, change_id: &str) -> bool {
        if self.running.lock().unwrap_or_else(|p| p.into_inner()).contains_key(change_id) {
            return true;
        }
        let Ok(dir) = self.dir("changes") else { return false };
        let modified = std::fs::metadata(dir.join(format!("{change_id}.lease"))).and_then(|m| m.modified());
        modified.is_ok_and(|at| SystemTime::now().duration_since(at).unwrap_or_default() < LEASE_STALE)
    }

    /// Asks the change's runner to stop before its next write: this process's directly, a
    /// replica's through the stop file it checks.
    pub fn request_stop(&self, change_id: &str) -> Result<(), String> {
        if let Some(token) = self.running.lock().unwrap_or_else(|p| p.into_inner()).get(change_id) {
            token.cancel();
        }
        let path = self.journal_path(change_id)?.with_extension("stop");
        std::fs::write(&path, b"").map_err(|e| io_error("write", &path, e))
    }

    /// Whether a stop was asked through the stop file.
    pub fn stop_requested(&self, change_id: &str) -> bool {
        self.journal_path(change_id).is_ok_and(|path| path.with_extension("stop").exists())
    }
}

/// Ids are made here: letters, digits, `-` and `_`, so one can never name a path elsewhere.
fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new id that sorts by creation time: `<prefix>-20260101T120000123-1a2b3c4d`.
pub fn new_id(prefix: &str) -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
    format!("{prefix}-{now}-{:08x}", rand::random::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn journal(dir: &Path) -> Journal {
        Journal::new(Some(dir.to_path_buf()), vec![7; 32], None, Scope::default()).unwrap()
    }

    #[tokio::test]
    async fn lines_survive_a_torn_tail_and_changes_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path());
        let (old, new) = ("fc-20260101T000000000-00000001", "fc-20260102T000000000-00000001");
        journal.append(old, &json!({"type": "start"})).await.unwrap();
        journal.append(new, &json!({"type": "start"})).await.unwrap();
        journal.append(new, &json!({"type": "intent"})).await.unwrap();
        let path = dir.path().join("changes").join(format!("{new}.jsonl"));
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"type\": \"outc").unwrap();
        assert_eq!(journal.lines(new).unwrap(), vec![json!({"type": "start"}), json!({"type": "intent"})]);
        assert_eq!(journal.change_ids().unwrap(), vec![new, old]);
        assert!(journal.lines("../etc/passwd").is_err());
    }

    #[test]
    fn a_plan_token_opens_only_against_the_bytes_it_was_sealed_with() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path());
        let bytes = journal.save_plan("fp-1", &json!({"targets": 3})).unwrap();
        let token = journal.seal(&json!({"plan_id": "fp-1"}), &bytes, Duration::from_secs(60)).unwrap();
        assert_eq!(journal.open::<Value>(&token, &journal.plan_bytes("fp-1").unwrap()).unwrap()["plan_id"], "fp-1");
        assert!(journal.open::<Value>(&token, b"{\"targets\":4}").is_err());
        let other = Journal::new(Some(dir.path().to_path_buf()), vec![8; 32], None, Scope::default()).unwrap();
        assert!(other.open::<Value>(&token, &bytes).is_err());
    }

    #[test]
    fn a_stop_reaches_a_runner_through_the_token_and_the_stop_file() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path());
        let token = journal.start_running("fc-1");
        assert!(journal.is_running("fc-1"));
        journal.request_stop("fc-1").unwrap();
        assert!(token.is_cancelled() && journal.stop_requested("fc-1"));
        journal.finish_running("fc-1");
        assert!(!journal.is_running("fc-1"));
    }
}
