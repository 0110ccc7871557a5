//! The append-only JSON Lines audit log of every call that is not a read.
//!
//! A call that gets as far as its RPC leaves two lines sharing a `call` id: an `intent` line,
//! fsync'd before anything is sent (if it cannot be written the call is refused), and an
//! `outcome` line after. A crash in between leaves the intent as the trace. A call refused
//! earlier (bad arguments, scope, confirmation) leaves only its `outcome` line.
//!
//! Each line is one `write` of a whole line, fsync'd off the async runtime before the call goes
//! on, under a lock so concurrent calls never interleave. A crash can still cut the last line
//! short; on the next open a missing final newline is added, so that torn line stays one
//! unparseable line and every later line starts clean.
use crate::call::Risk;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct AuditLog {
    file: Arc<Mutex<File>>,
}

/// What the log records of one call.
pub struct Entry {
    call: String,
    tool: &'static str,
    risk: Risk,
    /// Redacted, without `confirm`.
    arguments: Value,
    /// How the call was confirmed, when it was.
    pub confirmation: Option<Value>,
}

impl Entry {
    pub fn new(tool: &'static str, risk: Risk, arguments: Value) -> Self {
        Self { call: format!("{:016x}", rand::random::<u64>()), tool, risk, arguments, confirmation: None }
    }

    fn line(&self, phase: &str) -> Value {
        json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "call": self.call,
            "phase": phase,
            "tool": self.tool,
            "risk": self.risk,
            "arguments": self.arguments,
            "confirmation": self.confirmation,
        })
    }
}

impl AuditLog {
    /// Opens (or creates, mode 0600 on unix) the log for appending and heals a torn last line.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        if file.metadata()?.len() > 0 {
            let mut last = [0u8];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last != *b"\n" {
                file.write_all(b"\n")?;
                file.sync_data()?;
            }
        }
        Ok(Self { file: Arc::new(Mutex::new(file)) })
    }

    /// Records that the call is about to be sent; an error means it must not be.
    pub async fn intent(&self, entry: &Entry) -> std::io::Result<()> {
        self.append(entry.line("intent")).await
    }

    /// Records how the call ended.
    pub async fn outcome(&self, entry: &Entry, status: &str, took: Duration) -> std::io::Result<()> {
        let mut line = entry.line("outcome");
        line["status"] = json!(status);
        line["duration_ms"] = json!(took.as_millis() as u64);
        self.append(line).await
    }

    /// Appends one line and fsyncs it, on a blocking thread.
    async fn append(&self, entry: Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&entry)?;
        line.push(b'\n');
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_append_and_a_torn_line_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{\"tool\":\"torn").unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append(json!({"tool": "a"})).await.unwrap();
        drop(log);
        AuditLog::open(&path).unwrap().append(json!({"tool": "b"})).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"tool\":\"torn\n{\"tool\":\"a\"}\n{\"tool\":\"b\"}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let fresh = dir.path().join("new.jsonl");
            AuditLog::open(&fresh).unwrap();
            assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
