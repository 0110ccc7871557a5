//! Compiles `proto/` with protox (no system `protoc`) into prost/tonic code, a descriptor set for
//! prost-reflect's proto3 JSON, and one `Rpc` impl per AppService method so that a request type
//! alone names its gRPC path and response type. Also compiles in each response's output schema and
//! each tool's reviewed definition (`tests/snapshots/tools/`), so that startup derives no schema.
use heck::ToUpperCamelCase;
use prost::Message;
use std::fmt::Write as _;

#[path = "src/config_fields.rs"]
mod config_fields;
#[path = "src/output_schema.rs"]
mod output_schema;

/// One reviewed file per tool: what `tools/list` says about it, checked against the code by
/// `tools::tests::compiled_definitions_are_what_the_code_makes`.
const TOOL_DEFINITIONS: &str = "tests/snapshots/tools";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=src/config_fields.rs");
    println!("cargo:rerun-if-changed=src/output_schema.rs");
    println!("cargo:rerun-if-changed={TOOL_DEFINITIONS}");
    let fds = protox::compile(["app/v1/app.proto", "rpc/v1/auth.proto"], ["proto/viam", "proto"])?;
    // The runtime pool never reads comments or source positions; without them it decodes in a
    // fraction of the time, which is most of the server's startup.
    let mut runtime = fds.clone();
    runtime.file.iter_mut().for_each(|file| file.source_code_info = None);
    let runtime = runtime.encode_to_vec();
    std::fs::write(out.join("descriptor.bin"), &runtime)?;
    let pool = prost_reflect::DescriptorPool::decode(runtime.as_slice())?;

    let mut rpcs = String::new();
    // Each method's response schema, as `proto_json::output_schema` hands it to the catalogue.
    let mut schemas = std::collections::BTreeMap::new();
    for file in fds.file.iter().filter(|f| f.package() == "viam.app.v1") {
        for service in &file.service {
            for method in &service.method {
                let response = method.output_type().trim_start_matches('.');
                let message = pool.get_message_by_name(response).ok_or(format!("{response} is not in the pool"))?;
                schemas.insert(response.to_string(), serde_json::to_string(&output_schema::object_schema(&message))?);
                let rust_type = |full: &str| {
                    let name = full.rsplit('.').next().unwrap_or(full);
                    format!("crate::proto::viam::app::v1::{}", name.to_upper_camel_case())
                };
                writeln!(
                    rpcs,
                    "impl crate::proto::Rpc for {req} {{ type Response = {resp}; \
                     const PATH: &'static str = \"/{pkg}.{svc}/{name}\"; }}",
                    req = rust_type(method.input_type()),
                    resp = rust_type(method.output_type()),
                    pkg = file.package(),
                    svc = service.name(),
                    name = method.name(),
                )?;
            }
        }
    }
    std::fs::write(out.join("rpcs.rs"), rpcs)?;
    let mut lookup =
        String::from("fn output_schema_json(full_name: &str) -> Option<&'static str> {\n    match full_name {\n");
    for (name, schema) in &schemas {
        writeln!(lookup, "        {name:?} => Some({schema:?}),")?;
    }
    lookup.push_str("        _ => None,\n    }\n}\n");
    std::fs::write(out.join("output_schemas.rs"), lookup)?;
    std::fs::write(out.join("tool_definitions.rs"), tool_definitions()?)?;

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds_with_config(fds, config)?;
    Ok(())
}

/// `fn tool_definition_json(name) -> Option<&str>`: each tool's definition file, compacted.
fn tool_definitions() -> Result<String, Box<dyn std::error::Error>> {
    let mut files: Vec<_> = std::fs::read_dir(TOOL_DEFINITIONS)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|file| file.file_name());
    let mut lookup = String::from("fn tool_definition_json(name: &str) -> Option<&'static str> {\n    match name {\n");
    for file in files {
        let path = file.path();
        let Some(name) =
            path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|e| e == "json"))
        else {
            continue;
        };
        let definition: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        writeln!(lookup, "        {name:?} => Some({:?}),", serde_json::to_string(&definition)?)?;
    }
    lookup.push_str("        _ => None,\n    }\n}\n");
    Ok(lookup)
}
