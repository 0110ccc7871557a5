//! The install descriptors: `server.json` (MCP registry), `manifest.json` (MCPB bundle), the
//! Dockerfile and the npm and Python packages name this build's version and one registry name (the
//! README's `mcp-name:` line), no home the project does not own, and the bundle marks the API key sensitive.
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
    for registry in ["npm", "pypi"] {
        let package = packages.iter().find(|p| p["registryType"] == registry).expect(registry);
        assert_eq!(
            (&package["identifier"], &package["version"]),
            (&Value::from(env!("CARGO_PKG_NAME")), &Value::from(VERSION)),
            "the {registry} package"
        );
    }
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

/// The project's home is not known yet: its repository, registry name and image name say `OWNER`.
#[test]
fn no_descriptor_names_an_owner_of_the_project() {
    for file in [
        "README.md",
        "server.json",
        "manifest.json",
        "Dockerfile",
        "pyproject.toml",
        "packaging/npm/viam-fleet-mcp/package.json",
    ] {
        let text = read(file);
        for marker in ["github.com/", "io.github."] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let (owner, after) = rest.split_at(rest.find('/').unwrap_or(0));
                if after.starts_with("/viam-fleet-mcp") {
                    assert_eq!(owner, "OWNER", "{file} names {marker}{owner}/viam-fleet-mcp");
                }
            }
        }
    }
    let server = json("server.json");
    let oci = server["packages"].as_array().unwrap().iter().find(|p| p["registryType"] == "oci").unwrap();
    assert!(oci["identifier"].as_str().unwrap().contains("OWNER/viam-fleet-mcp:"), "{oci}");
}

#[test]
fn dockerfile_builds_the_dist_profile_from_pinned_images_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(images.len(), 2, "a build stage and a runtime stage: {images:?}");
    for image in images {
        // A release's own tag (`1.95.0-slim`, `12.12-slim`), not a moving one (`1-slim`, `bookworm-slim`).
        let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        let version = tag.split('-').next().unwrap();
        let pinned = version.contains('.') && version.split('.').all(|n| n.parse::<u32>().is_ok());
        assert!(pinned, "{image} is not pinned to a version tag");
    }
    assert!(dockerfile.contains("cargo build --profile dist --locked"), "the image builds the dist profile");
    let user = dockerfile.lines().find_map(|l| l.strip_prefix("USER ")).expect("a USER line");
    assert!(user.trim().parse::<u32>().is_ok_and(|uid| uid > 0), "USER {user}");
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/viam-fleet-mcp"]"#));
    for (label, value) in [("version", VERSION), ("licenses", env!("CARGO_PKG_LICENSE"))] {
        let line = format!("LABEL org.opencontainers.image.{label}=\"{value}\"");
        assert!(dockerfile.contains(&line), "the Dockerfile lacks {line}");
    }
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

/// npm picks the platform package from the launcher's `optionalDependencies`, and the launcher looks
/// it up in its own table: the two must name the same packages, at this version.
#[test]
fn npm_launcher_names_this_version_and_the_platform_packages_it_runs() {
    let launcher = json("packaging/npm/viam-fleet-mcp/package.json");
    let name = env!("CARGO_PKG_NAME");
    assert_eq!((&launcher["name"], &launcher["version"]), (&Value::from(name), &Value::from(VERSION)));
    assert_eq!(launcher["mcpName"], json("server.json")["name"], "the MCP registry checks mcpName");
    assert_eq!(launcher["bin"][name], "bin/viam-fleet-mcp.js");

    let script = read("packaging/npm/viam-fleet-mcp/bin/viam-fleet-mcp.js");
    let table: Vec<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split_once("\": \""))
        .map(|(_, package)| package.trim_end_matches("\","))
        .collect();
    let dependencies = launcher["optionalDependencies"].as_object().unwrap();
    assert_eq!(table, dependencies.keys().map(String::as_str).collect::<Vec<_>>(), "the launcher's table");
    for (package, version) in dependencies {
        assert_eq!(version, VERSION, "{package}");
        assert!(package.starts_with(&format!("{name}-")), "{package}");
    }
    assert!(dependencies.contains_key(&format!("{name}-linux-x64")), "the package CI tests");
}

#[test]
fn wheel_is_this_crate_as_a_script_and_the_package_readmes_carry_the_registry_name() {
    let pyproject = read("pyproject.toml");
    for line in [
        format!("name = \"{}\"", env!("CARGO_PKG_NAME")),
        "dynamic = [\"version\"]".to_owned(), // maturin takes Cargo's
        "bindings = \"bin\"".to_owned(),
        "profile = \"dist\"".to_owned(),
    ] {
        assert!(pyproject.lines().any(|l| l == line), "pyproject.toml lacks {line}");
    }
    let name = json("server.json")["name"].as_str().unwrap().to_owned();
    for readme in ["packaging/python/README.md", "packaging/npm/viam-fleet-mcp/README.md"] {
        assert!(read(readme).contains(&format!("\nmcp-name: {name}\n")), "{readme} lacks mcp-name: {name}");
    }
}
