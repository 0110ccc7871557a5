//! File confinement through the real binary: `dest` and `file_path` stay inside `--allow-dir`
//! directories and the client's MCP roots, escapes through `..` and symlinks are refused before
//! any RPC, and existing files are replaced only with `overwrite: true`.
use crate::common;

use common::{Harness, assert_error_code};
#[allow(deprecated)] // Roots, which the server reads.
use rmcp::model::{ClientCapabilities, ClientConfig, ErrorData, Implementation, ListRootsResult, Root};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use viam_fleet_mcp::sandbox::{SandboxConfig, ids};

common::over_both_transports!(mcp_roots_allow_files_without_allow_dir);

async fn allowed(dir: &Path) -> Harness {
    Harness::start_with(SandboxConfig::default(), &["--allow-dir", dir.to_str().unwrap()]).await
}

fn part_config(dest: &Path) -> Value {
    json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": dest})
}

fn upload(file_path: &Path, version: &str) -> Value {
    json!({"module_file_info": {"module_id": ids::MODULE_ID, "version": version, "platform": "linux/amd64"},
        "file_path": file_path})
}

/// Asserts a refusal that names `what` and that nothing reached the service for it.
fn assert_refused(harness: &Harness, error: &Value, what: &str) {
    assert_error_code(error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains(what), "{error}");
    let sent = harness.methods();
    assert!(
        !sent.iter().any(|m| ["GetRobotPart", "GetRobotPartLogs", "UploadModuleFile"].contains(&m.as_str())),
        "a refused call reached the service: {sent:?}"
    );
}

#[tokio::test]
async fn writes_inside_an_allowed_dir_and_replaces_only_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let harness = allowed(dir.path()).await;
    let config = dir.path().join("config.json");
    let out = harness.ok("get_robot_part", part_config(&config)).await;
    let written = std::fs::read_to_string(&config).unwrap();
    assert_eq!(out["path"], json!(config.canonicalize().unwrap()));
    assert_eq!(out["bytes"], json!(written.len()));
    assert!(written.starts_with('{'), "{written}");

    std::fs::write(&config, "mine").unwrap();
    harness.sandbox.clear_journal();
    let error = harness.err("get_robot_part", part_config(&config)).await;
    assert_refused(&harness, &error, "overwrite");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "mine");
    let mut again = part_config(&config);
    again["overwrite"] = json!(true);
    harness.ok("get_robot_part", again).await;
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);

    let logs = dir.path().join("logs.txt");
    std::fs::write(&logs, "mine").unwrap();
    let call = json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "num_log_entries": 3, "dest": logs});
    harness.sandbox.clear_journal();
    let error = harness.err("get_robot_part_logs", call.clone()).await;
    assert_refused(&harness, &error, "overwrite");
    assert_eq!(std::fs::read_to_string(&logs).unwrap(), "mine");
    let mut call = call;
    call["overwrite"] = json!(true);
    harness.ok("get_robot_part_logs", call).await;
    assert_eq!(std::fs::read_to_string(&logs).unwrap().lines().count(), 3);
    harness.stop().await;
}

#[tokio::test]
async fn without_allow_dir_or_roots_file_tools_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("module.tar.gz");
    std::fs::write(&module, b"archive").unwrap();
    let harness = Harness::start().await;
    let config = dir.path().join("config.json");
    for (tool, call) in [
        ("get_robot_part", part_config(&config)),
        ("get_robot_part_logs", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": config})),
        ("upload_module_file", upload(&module, "9.0.0")),
    ] {
        let error = harness.err(tool, call).await;
        assert_refused(&harness, &error, "--allow-dir");
        assert!(error["message"].as_str().unwrap().contains("MCP roots"), "{error}");
    }
    assert!(!config.exists());
    // An empty `dest` still means no file, as in the SDK, so it needs no directory.
    harness.ok("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": ""})).await;
    harness.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn dot_dot_and_symlinks_cannot_escape() {
    use std::os::unix::fs::symlink;
    let top = tempfile::tempdir().unwrap();
    let (inside, outside) = (top.path().join("inside"), top.path().join("outside"));
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim.json");
    std::fs::write(&victim, "untouched").unwrap();
    let module = outside.join("module.tar.gz");
    std::fs::write(&module, b"archive").unwrap();
    symlink(&outside, inside.join("out")).unwrap();
    symlink(&victim, inside.join("victim.json")).unwrap();
    symlink(&module, inside.join("module.tar.gz")).unwrap();
    let harness = allowed(&inside).await;

    let dot_dot = inside.join("../outside/new.json");
    let error = harness.err("get_robot_part", part_config(&dot_dot)).await;
    assert_refused(&harness, &error, "outside the directories");
    // Relative paths resolve against the server's working directory, which is not allowed here.
    let error = harness.err("get_robot_part", json!({"robot_part_id": ids::PART_ROVER_1_MAIN, "dest": "x.json"})).await;
    assert_refused(&harness, &error, "outside the directories");
    let through_dir = inside.join("out/new.json");
    let error = harness.err("get_robot_part", part_config(&through_dir)).await;
    assert_refused(&harness, &error, "outside the directories");
    let mut onto_link = part_config(&inside.join("victim.json"));
    onto_link["overwrite"] = json!(true);
    let error = harness.err("get_robot_part", onto_link).await;
    assert_refused(&harness, &error, "symlink");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(!outside.join("new.json").exists());
    for escape in
        [inside.join("out/module.tar.gz"), inside.join("module.tar.gz"), inside.join("../outside/module.tar.gz")]
    {
        let error = harness.err("upload_module_file", upload(&escape, "9.0.1")).await;
        assert_refused(&harness, &error, "outside the directories");
    }
    harness.stop().await;
}

#[tokio::test]
async fn upload_module_file_reads_only_allowed_files() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (inside, outside) = (dir.path().join("module.tar.gz"), elsewhere.path().join("module.tar.gz"));
    std::fs::write(&inside, b"inside archive").unwrap();
    std::fs::write(&outside, b"outside archive").unwrap();
    let harness = allowed(dir.path()).await;
    let out = harness.ok("upload_module_file", upload(&inside, "9.1.0")).await;
    assert_eq!(out["bytes_uploaded"], json!(14));
    harness.sandbox.clear_journal();
    let error = harness.err("upload_module_file", upload(&outside, "9.1.1")).await;
    assert_refused(&harness, &error, "outside the directories");
    harness.stop().await;
}

/// A client that declares one MCP root.
struct RootsClient {
    root: PathBuf,
}

#[allow(deprecated)]
impl ClientHandler for RootsClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::builder().enable_roots().build(), Implementation::new("roots", "1"))
    }

    async fn list_roots(&self, _context: RequestContext<RoleClient>) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(vec![Root::new(format!("file://{}", self.root.display()))]))
    }
}

async fn mcp_roots_allow_files_without_allow_dir() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let client = RootsClient { root: root.path().to_path_buf() };
    let harness = Harness::start_client(SandboxConfig::default(), &[], client).await;
    let inside = root.path().join("config.json");
    harness.ok("get_robot_part", part_config(&inside)).await;
    assert!(inside.exists());
    let outside = elsewhere.path().join("config.json");
    let error = harness.err("get_robot_part", part_config(&outside)).await;
    assert_error_code(&error, "invalid_arguments");
    assert!(error["message"].as_str().unwrap().contains("outside the directories"), "{error}");
    assert!(!outside.exists());
    harness.stop().await;
}
