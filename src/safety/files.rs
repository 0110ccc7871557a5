//! Confinement of the local files tools read (`file_path`) and write (`dest`).
//!
//! A path is allowed only inside an `--allow-dir` directory or one of the client's MCP roots.
//! Relative paths are resolved against the server's working directory, then checked like any
//! other. Containment is decided on canonical paths, so neither `..` nor a symlink can lead out.
use crate::call::FileArg;
use crate::error::ToolError;
use rmcp::RoleServer;
use rmcp::model::JsonObject;
use rmcp::service::RequestContext;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The directories a call may touch: `--allow-dir` plus the client's MCP roots.
#[derive(Debug, Default, Clone)]
pub struct FileAccess {
    pub allow_dirs: Vec<PathBuf>,
}

impl FileAccess {
    /// Checks the file arguments a row declares, where the call gives them (an empty path means
    /// no file, as in the SDK), before anything is sent. `overwrite` is the call's own argument.
    pub fn check(
        &self,
        declared: &[FileArg],
        arguments: &JsonObject,
        roots: &[PathBuf],
    ) -> Result<HashMap<&'static str, PathBuf>, ToolError> {
        let mut checked = HashMap::new();
        for file in declared {
            let Some(path) = given(arguments, file.argument()) else { continue };
            let target = match file {
                FileArg::Read(_) => self.readable(path, roots),
                FileArg::Write(_) => {
                    let overwrite = arguments.get("overwrite").and_then(|v| v.as_bool()).unwrap_or(false);
                    self.writable(path, overwrite, roots)
                }
            };
            checked.insert(file.argument(), target?);
        }
        Ok(checked)
    }

    /// A path a tool may create (or, with `overwrite`, replace): its parent directory must exist
    /// and lie inside an allowed directory, and its last component must not be a symlink.
    pub fn writable(&self, path: &str, overwrite: bool, roots: &[PathBuf]) -> Result<PathBuf, ToolError> {
        let allowed = self.allowed(roots, "write files to")?;
        let absolute = std::path::absolute(path).map_err(|e| ToolError::invalid(format!("{path:?}: {e}")))?;
        let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
            return Err(ToolError::invalid(format!("{path:?} does not name a file")));
        };
        let parent = parent
            .canonicalize()
            .map_err(|e| ToolError::invalid(format!("{path:?}: its directory {}: {e}", parent.display())))?;
        let target = parent.join(name);
        confine(path, &target, &allowed)?;
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(ToolError::invalid(format!("{path:?} is a symlink; refusing to write through it")))
            }
            Ok(meta) if meta.is_dir() => Err(ToolError::invalid(format!("{path:?} is a directory"))),
            Ok(_) if !overwrite => {
                Err(ToolError::invalid(format!("{path:?} already exists; pass \"overwrite\": true to replace it")))
            }
            _ => Ok(target),
        }
    }

    /// A path a tool may read: a regular file, symlinks resolved, inside an allowed directory.
    /// A named pipe or device would block the reader forever, so only regular files pass.
    pub fn readable(&self, path: &str, roots: &[PathBuf]) -> Result<PathBuf, ToolError> {
        let allowed = self.allowed(roots, "read files from")?;
        let target =
            Path::new(path).canonicalize().map_err(|e| ToolError::local(format!("cannot read {path:?}: {e}")))?;
        confine(path, &target, &allowed)?;
        let meta = std::fs::metadata(&target).map_err(|e| ToolError::local(format!("cannot read {path:?}: {e}")))?;
        if !meta.is_file() {
            return Err(ToolError::invalid(format!("{path:?} is not a regular file")));
        }
        Ok(target)
    }

    /// The canonical allowed directories; none configured is a refusal that says how to allow one.
    /// A directory that does not exist (or a root that is not a local path) allows nothing.
    fn allowed(&self, roots: &[PathBuf], what: &str) -> Result<Vec<PathBuf>, ToolError> {
        if self.allow_dirs.is_empty() && roots.is_empty() {
            return Err(ToolError::invalid(format!(
                "this server may not {what} any directory: start it with --allow-dir DIR \
                 (repeatable), or use a client that declares MCP roots"
            )));
        }
        Ok(self.allow_dirs.iter().chain(roots).filter_map(|dir| dir.canonicalize().ok()).collect())
    }
}

fn confine(path: &str, target: &Path, allowed: &[PathBuf]) -> Result<(), ToolError> {
    if allowed.iter().any(|dir| target.starts_with(dir)) {
        return Ok(());
    }
    let dirs: Vec<String> = allowed.iter().map(|d| d.display().to_string()).collect();
    Err(ToolError::invalid(format!(
        "{path:?} resolves to {}, outside the directories this server may use ({}; set by --allow-dir \
         and the client's MCP roots)",
        target.display(),
        if dirs.is_empty() { "none of them exists".to_string() } else { dirs.join(", ") }
    )))
}

/// What a call that wrote its payload to a file returns instead of the payload: the file, its
/// size in bytes, and how many entries (log lines, top-level config keys) it holds.
pub fn receipt(target: &Path, bytes: usize, count: usize) -> serde_json::Value {
    serde_json::json!({"path": target, "bytes": bytes, "count": count})
}

/// A non-empty string argument.
fn given<'a>(arguments: &'a JsonObject, name: &str) -> Option<&'a str> {
    arguments.get(name).and_then(|v| v.as_str()).filter(|path| !path.is_empty())
}

/// Whether the call names any of the declared files (then the client's roots are worth asking for).
pub fn names_any(declared: &[FileArg], arguments: &JsonObject) -> bool {
    declared.iter().any(|file| given(arguments, file.argument()).is_some())
}

/// The client's roots as local directories, where it declared any.
#[allow(deprecated)] // Roots is deprecated by SEP-2577, but it is what today's stdio clients offer.
pub async fn client_roots(context: &RequestContext<RoleServer>) -> Vec<PathBuf> {
    let declared = context.client_capabilities().is_some_and(|c| c.roots.is_some());
    if !declared {
        return Vec::new();
    }
    match context.peer.list_roots().await {
        Ok(result) => {
            result.roots.iter().filter_map(|root| root.uri.strip_prefix("file://")).map(PathBuf::from).collect()
        }
        Err(e) => {
            tracing::debug!("roots not available: {e}");
            Vec::new()
        }
    }
}

/// Reads a path [`FileAccess::readable`] returned, on a blocking thread. The file is opened
/// without blocking and must still be a regular file once open, so one swapped for a pipe after
/// the check cannot hang the reader.
pub async fn read(target: PathBuf) -> std::io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
        let mut file = options.open(&target)?;
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut contents = Vec::new();
        file.read_to_end(&mut contents)?;
        Ok(contents)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Writes `contents` to `target` through a temporary file in the same directory, synced before it
/// is renamed into place, so a reader never sees half a file. Without `overwrite` an existing
/// file (even a symlink that appeared meanwhile) is an error; with it the target is replaced,
/// never written through. `private` makes the file readable by its owner only.
pub fn write(target: &Path, contents: &[u8], overwrite: bool, private: bool) -> std::io::Result<()> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    if private {
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    }
    let mut file = builder.prefix(".viam-fleet-mcp-").tempfile_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    if overwrite {
        file.persist(target)?;
    } else {
        file.persist_noclobber(target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(dir: &Path) -> FileAccess {
        FileAccess { allow_dirs: vec![dir.to_path_buf()] }
    }

    #[test]
    fn nothing_allowed_without_a_directory_or_root() {
        let err = FileAccess::default().writable("/tmp/x", false, &[]).unwrap_err();
        assert_eq!(err.code(), "invalid_arguments");
        assert!(err.to_string().contains("--allow-dir") && err.to_string().contains("MCP roots"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(FileAccess::default().readable(file.to_str().unwrap(), &[dir.path().to_path_buf()]).is_ok());
    }

    #[test]
    fn dot_dot_and_missing_parents_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        let escape = format!("{}/../out.txt", inner.display());
        let err = access(&inner).writable(&escape, false, &[]).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let missing = format!("{}/no/such/dir/f", inner.display());
        assert!(access(&inner).writable(&missing, false, &[]).is_err());
        std::fs::create_dir(inner.join("d")).unwrap();
        let err = access(&inner).writable(&format!("{}/d", inner.display()), true, &[]).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_cannot_lead_out() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let through_dir = format!("{}/out/new.txt", dir.path().display());
        assert!(access(dir.path()).writable(&through_dir, false, &[]).is_err());
        let link = format!("{}/link", dir.path().display());
        let err = access(dir.path()).writable(&link, true, &[]).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(access(dir.path()).readable(&link, &[]).unwrap_err().to_string().contains("outside"));
        assert!(access(dir.path()).readable(&format!("{}/out/secret", dir.path().display()), &[]).is_err());
    }

    #[test]
    fn overwrite_replaces_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        let text = path.to_str().unwrap();
        let target = access(dir.path()).writable(text, false, &[]).unwrap();
        write(&target, b"one", false, false).unwrap();
        assert!(access(dir.path()).writable(text, false, &[]).unwrap_err().to_string().contains("overwrite"));
        assert!(write(&target, b"two", false, false).is_err(), "an existing file is not replaced");
        let target = access(dir.path()).writable(text, true, &[]).unwrap();
        write(&target, b"two", true, false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }
}
