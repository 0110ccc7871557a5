//! The append-only JSON Lines audit log of every call that is not a read.
//!
//! Each entry is one `write` of a whole line, fsync'd before the call's result returns, under a
//! lock so concurrent calls never interleave. A crash can still cut the last line short; on the
//! next open a missing final newline is added, so that torn line stays one unparseable line and
//! every later line starts clean.
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

pub struct AuditLog {
    file: Mutex<File>,
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
        Ok(Self { file: Mutex::new(file) })
    }

    /// Appends one line and fsyncs it before returning.
    pub fn record(&self, entry: &Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(&line)?;
        file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_append_and_a_torn_line_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{\"tool\":\"torn").unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.record(&json!({"tool": "a"})).unwrap();
        drop(log);
        AuditLog::open(&path).unwrap().record(&json!({"tool": "b"})).unwrap();
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
