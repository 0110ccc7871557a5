//! Logging to stderr through `tracing`. Libraries that log whole requests and responses (rmcp at
//! debug/trace, the HTTP/2 and gRPC stack at trace) are held at `info` whatever `RUST_LOG` says:
//! their payloads would carry secrets. `--log-payloads` logs each call's arguments and result
//! redacted instead (see the pipeline). As a last guard, every line is scrubbed of the server's
//! own API key before it is written.
use std::io::Write;
use std::sync::Arc;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose debug and trace output carries request or response payloads.
const PAYLOAD_LOGGERS: [&str; 6] = ["rmcp", "h2", "hyper", "hyper_util", "tonic", "tower"];

/// Installs the subscriber, one JSON object per line when `json`; `secrets` are replaced in
/// every line written.
pub fn init(secrets: Vec<String>, json: bool) {
    let configured = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    let payloads_off = PAYLOAD_LOGGERS.iter().fold(Targets::new().with_default(LevelFilter::TRACE), |targets, name| {
        targets.with_target(*name, LevelFilter::INFO)
    });
    let writer = Scrubbed { secrets: Arc::new(secrets.into_iter().filter(|s| !s.is_empty()).collect()) };
    let logs = tracing_subscriber::fmt().with_env_filter(configured).with_writer(writer).with_ansi(false);
    let _ = if json {
        logs.json().finish().with(payloads_off).try_init()
    } else {
        logs.finish().with(payloads_off).try_init()
    };
}

/// Writes to stderr with every secret replaced.
#[derive(Clone)]
struct Scrubbed {
    secrets: Arc<Vec<String>>,
}

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = Scrubbed;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for Scrubbed {
    /// The formatter hands over each event as one buffer, so a secret is never split across calls.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        let text = String::from_utf8_lossy(buf);
        if self.secrets.iter().any(|secret| text.contains(secret.as_str())) {
            let scrubbed =
                self.secrets.iter().fold(text.into_owned(), |line, secret| line.replace(secret.as_str(), "<redacted>"));
            stderr.write_all(scrubbed.as_bytes())?;
        } else {
            stderr.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
