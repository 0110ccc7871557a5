//! The pipeline's stages. Every rule here is derived from what a tool row declares (its risk
//! class and its policy): which tools are exposed, who must confirm, what is redacted, what is
//! audited, how large a result may be, which files and which parts of the fleet a call may touch. These modules depend on
//! the neutral core (`call`, `lookup`), never on the catalogue.
pub mod audit;
pub mod budget;
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
    /// The sealing key and redeemed states of MRTR confirmations.
    pub confirmations: confirm::Confirmations,
    /// Return secrets in read results instead of redacting them.
    pub show_secrets: bool,
    /// Tools that hand out a secret write it to a new file here and return the path.
    pub secrets_dir: Option<PathBuf>,
    pub audit: Option<audit::AuditLog>,
    pub files: files::FileAccess,
    pub scope: scope::Scope,
    /// Log each call's arguments and result, redacted.
    pub log_payloads: bool,
    /// The most bytes of text a result may have.
    pub budget: budget::Budget,
    /// Listings kept for the pages after the first.
    pub listings: budget::Listings,
}
