//! TLS for the sandbox: a CA made at start, and a server certificate it signs for `127.0.0.1`
//! and `localhost`, so clients exercise the same verified TLS path as against Viam's cloud.
use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::Path;
use tonic::transport::{Identity, ServerTlsConfig};

/// A fresh CA and server certificate. The CA is written to `dir/ca.pem`, the only file clients
/// need; the keys stay in memory.
pub(super) fn server_config(dir: &Path) -> anyhow::Result<ServerTlsConfig> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "viam-fleet-mcp sandbox CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    leaf.distinguished_name.push(DnType::CommonName, "viam-fleet-mcp sandbox");
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &ca)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ServerTlsConfig::new().identity(Identity::from_pem(cert.pem(), key.serialize_pem())))
}
