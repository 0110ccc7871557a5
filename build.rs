//! Compiles `proto/` with protox (no system `protoc`) into prost/tonic code, a descriptor set for
//! prost-reflect's proto3 JSON, and one `Rpc` impl per AppService method so that a request type
//! alone names its gRPC path and response type.
use heck::ToUpperCamelCase;
use prost::Message;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["app/v1/app.proto", "rpc/v1/auth.proto"], ["proto/viam", "proto"])?;
    // The runtime pool never reads comments or source positions; without them it decodes in a
    // fraction of the time, which is most of the server's startup.
    let mut runtime = fds.clone();
    runtime.file.iter_mut().for_each(|file| file.source_code_info = None);
    std::fs::write(out.join("descriptor.bin"), runtime.encode_to_vec())?;

    let mut rpcs = String::new();
    for file in fds.file.iter().filter(|f| f.package() == "viam.app.v1") {
        for service in &file.service {
            for method in &service.method {
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

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds_with_config(fds, config)?;
    Ok(())
}
