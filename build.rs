//! Compiles `proto/` with protox (pure Rust, no system protoc) and tonic-prost-build, and writes
//! the encoded descriptor set that server reflection serves.

use std::env;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/authyd/v1/two_factor.proto",
    "proto/authyd/sandbox/v1/sandbox.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTOS)?;
    std::fs::write(
        out.join("authyd_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    println!("cargo:rerun-if-changed=proto");
    // sqlx::migrate! notices edits to existing migrations but not new files.
    println!("cargo:rerun-if-changed=src/store/migrations");
    Ok(())
}
