//! The optional state file: loaded once at start, then rewritten atomically after every acknowledged
//! mutation, before the RPC answers.
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use tonic::Status;

use super::state::State;

pub struct Store {
    path: PathBuf,
    /// Sequence number of the latest prepared snapshot.
    prepared: AtomicU64,
    /// Sequence number of the snapshot on disk.
    written: Arc<Mutex<u64>>,
}

/// A serialized snapshot waiting to be written.
pub struct Pending {
    seq: u64,
    bytes: Vec<u8>,
}

impl Store {
    /// Loads the state from `path`, or, when there is no file yet, writes `fresh()` there.
    pub fn open(path: PathBuf, fresh: impl FnOnce() -> State) -> anyhow::Result<(Store, State)> {
        let state = if path.exists() {
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?
        } else {
            let state = fresh();
            write_atomic(&path, &serde_json::to_vec_pretty(&state)?)
                .with_context(|| format!("writing {}", path.display()))?;
            state
        };
        let store = Store { path, prepared: AtomicU64::new(0), written: Arc::new(Mutex::new(0)) };
        Ok((store, state))
    }

    /// Serializes `state`; called with the state lock held, so sequence numbers follow the order of mutations.
    pub fn prepare(&self, state: &State) -> Pending {
        let bytes = serde_json::to_vec_pretty(state).expect("the state always serializes");
        Pending { seq: self.prepared.fetch_add(1, Ordering::SeqCst) + 1, bytes }
    }

    /// Writes the snapshot unless a newer one is already on disk (which then includes this mutation too).
    pub async fn commit(&self, pending: Pending) -> Result<(), Status> {
        let (path, written) = (self.path.clone(), self.written.clone());
        tokio::task::spawn_blocking(move || {
            let mut written = written.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.seq > *written {
                write_atomic(&path, &pending.bytes)?;
                *written = pending.seq;
            }
            Ok::<_, io::Error>(())
        })
        .await
        .map_err(|e| Status::internal(format!("saving the sandbox state: {e}")))?
        .map_err(|e| Status::internal(format!("saving the sandbox state: {e}")))
    }
}

/// Temp file in the same directory, fsync, rename, fsync the directory: a crash leaves either the old or the
/// new file, never a torn one.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)?;
    File::open(dir)?.sync_all()
}
