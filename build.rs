//! Compiles `proto/` with protox (no system `protoc`) into prost/tonic code plus a descriptor set
//! that prost-reflect uses for proto3 JSON.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["app/v1/app.proto", "rpc/v1/auth.proto"], ["proto/viam", "proto"])?;
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
