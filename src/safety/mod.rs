//! The safety layer. Every rule here is derived from the risk class a tool row declares: which
//! tools are exposed, who must confirm, what is redacted, what is audited, which files and which
//! parts of the fleet a call may touch.
pub mod audit;
pub mod confirm;
pub mod files;
pub mod filter;
pub mod redact;
pub mod scope;

use std::path::PathBuf;

/// Who must agree before a destructive call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConfirmMode {
    /// `confirm: true` from the model suffices; without it a person is asked when the client
    /// can elicit, else the call answers `confirmation_required` with a preview.
    #[default]
    Flag,
    /// A person must accept through elicitation; the model's flag is not enough.
    Human,
}

/// The safety settings of one server.
#[derive(Default)]
pub struct Policy {
    pub confirm: ConfirmMode,
    /// Return secrets in read results instead of redacting them.
    pub show_secrets: bool,
    /// Tools that hand out a secret write it to a new file here and return the path.
    pub secrets_dir: Option<PathBuf>,
    pub audit: Option<audit::AuditLog>,
    pub files: files::FileAccess,
    pub scope: scope::Scope,
}
