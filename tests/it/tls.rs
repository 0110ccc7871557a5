//! The path every real user takes: the server dials the app over TLS. The sandbox serves TLS with
//! a CA made at start; with `--ca-file` every kind of call works, without it calls fail naming
//! the certificate problem and the flag, and nothing falls back to plaintext.
use crate::common;

use common::{BIN, Harness, assert_error_code};
use serde_json::json;
use std::path::Path;
use viam_fleet_mcp::sandbox::{self, DEMO_API_KEY, DEMO_API_KEY_ID, RunningSandbox, SandboxConfig, ids};

async fn tls_sandbox(dir: &Path) -> RunningSandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sandbox::start_tls(SandboxConfig::default(), listener, dir).await.unwrap()
}

#[tokio::test]
async fn with_the_ca_file_auth_unary_streaming_and_upload_work_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = tls_sandbox(dir.path()).await;
    assert!(sandbox.url().starts_with("https://127.0.0.1:"));
    let archive = dir.path().join("module.tar.gz");
    std::fs::write(&archive, b"module bytes").unwrap();
    let ca = dir.path().join("ca.pem");
    let args = ["--ca-file", ca.to_str().unwrap(), "--allow-dir", dir.path().to_str().unwrap()];
    let harness = Harness::start_against(sandbox, &args).await;

    let orgs = harness.ok("list_organizations", json!({})).await;
    assert!(orgs.to_string().contains(ids::ORG));
    let tail = harness
        .ok("tail_robot_part_logs", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "errors_only": false, "max_entries": 3, "duration_seconds": 20}))
        .await;
    assert_eq!(tail["logs"].as_array().unwrap().len(), 3, "{tail}");
    let upload = harness
        .ok(
            "upload_module_file",
            json!({"module_file_info": {"module_id": ids::MODULE_ID, "version": "7.0.0", "platform": "linux/amd64"},
                "file_path": archive}),
        )
        .await;
    assert_eq!(upload["bytes_uploaded"], json!(12));
    let methods = harness.methods();
    for method in ["ListOrganizations", "TailRobotPartLogs", "UploadModuleFile"] {
        assert!(methods.iter().any(|m| m == method), "{method} not received: {methods:?}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn without_the_ca_calls_fail_naming_the_certificate_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_against(tls_sandbox(dir.path()).await, &[]).await;
    let error = harness.err("list_organizations", json!({})).await;
    assert_error_code(&error, "UNAVAILABLE");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("certificate") && message.contains("UnknownIssuer"), "{error}");
    assert!(error["hint"].as_str().unwrap().contains("--ca-file"), "{error}");
    assert!(harness.methods().is_empty(), "no call reached the service");
    harness.stop().await;
}

#[tokio::test]
async fn call_reaches_the_standalone_tls_sandbox_only_with_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut standalone = tokio::process::Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--tls-dir", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(standalone.stdout.take().unwrap()));
    let first = lines.next_line().await.unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{first}");
    let ca = dir.path().join("ca.pem");
    let call = |ca_file: Option<&Path>| {
        let mut command = std::process::Command::new(BIN);
        command
            .args(["call", "list_organizations"])
            .env("VIAM_APP_URL", &url)
            .env("VIAM_API_KEY_ID", DEMO_API_KEY_ID)
            .env("VIAM_API_KEY", DEMO_API_KEY)
            .env_remove("VIAM_CA_FILE")
            .env_remove("SSL_CERT_FILE");
        if let Some(ca_file) = ca_file {
            command.env("VIAM_CA_FILE", ca_file);
        }
        command.output().unwrap()
    };
    let trusted = call(Some(&ca));
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    assert!(String::from_utf8_lossy(&trusted.stdout).contains(ids::ORG));
    let untrusted = call(None);
    assert_eq!(untrusted.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&untrusted.stdout);
    assert!(shown.contains("certificate") && shown.contains("--ca-file"), "{shown}");
}
