//! The install descriptors: `server.json` (MCP registry) and `manifest.json` (MCPB bundle) are
//! valid JSON naming this build's version, the registry name matches the README's `mcp-name:`
//! line and the image label, and the bundle marks the API key sensitive.
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn json(file: &str) -> Value {
    serde_json::from_str(&read(file)).unwrap_or_else(|e| panic!("{file} is not valid JSON: {e}"))
}

#[test]
fn server_json_names_this_version_and_the_readme_and_image_carry_its_name() {
    let server = json("server.json");
    assert_eq!(server["version"], VERSION, "server.json version");
    let packages = server["packages"].as_array().unwrap();
    let cargo = packages.iter().find(|p| p["registryType"] == "cargo").expect("a cargo package");
    assert_eq!(
        (&cargo["identifier"], &cargo["version"]),
        (&Value::from(env!("CARGO_PKG_NAME")), &Value::from(VERSION))
    );
    let oci = packages.iter().find(|p| p["registryType"] == "oci").expect("an OCI package");
    assert!(oci["identifier"].as_str().unwrap().ends_with(&format!(":{VERSION}")), "{oci}");

    let name = server["name"].as_str().unwrap();
    // Visible text, not an HTML comment: renderers drop comments.
    let readme = read("README.md");
    let line = readme.lines().find(|l| l.contains("mcp-name:")).expect("an mcp-name: line in the README");
    assert!(line.contains(&format!("mcp-name: {name}")) && !line.contains("<!--"), "{line}");
    let label = format!("LABEL io.modelcontextprotocol.server.name=\"{name}\"");
    assert!(read("Dockerfile").contains(&label), "the Dockerfile lacks {label}");
}

#[test]
fn manifest_json_is_a_binary_bundle_of_this_version_with_a_sensitive_key() {
    let manifest = json("manifest.json");
    assert_eq!(manifest["version"], VERSION, "manifest.json version");
    assert_eq!(manifest["server"]["type"], "binary");
    let config = &manifest["user_config"];
    assert_eq!(config["api_key"]["sensitive"], true);
    assert_ne!(config["api_key_id"]["sensitive"], true, "the key id is not a secret");
    let env = &manifest["server"]["mcp_config"]["env"];
    assert_eq!(env["VIAM_API_KEY"], "${user_config.api_key}");
    assert_eq!(env["VIAM_API_KEY_ID"], "${user_config.api_key_id}");
}
