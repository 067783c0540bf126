//! Compiles `proto/` with protox (pure Rust, no system protoc) and tonic-prost-build, and writes
//! the encoded descriptor sets that server reflection serves: the public API's, and the sandbox
//! controls' apart (reflection lists `SandboxService` only where it is served).

use std::env;
use std::path::{Path, PathBuf};

const API: &str = "proto/authyd/v1/two_factor.proto";
const SANDBOX: &str = "proto/authyd/sandbox/v1/sandbox.proto";
/// Messages whose fields hold a credential (a token the user typed, a registration JWT and the
/// URI and QR codes that encode it) or personal data authyd never stores in the clear (an
/// email, a phone number). Their derived Debug would print it.
const SECRET_BEARING: [&str; 3] = [
    "authyd.v1.EnrollRequest",
    "authyd.v1.VerifyTokenRequest",
    "authyd.v1.StartRegistrationResponse",
];

fn descriptor_set(
    files: &[&str],
    out: &Path,
) -> Result<protox::Compiler, Box<dyn std::error::Error>> {
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(files)?;
    std::fs::write(out, compiler.encode_file_descriptor_set())?;
    Ok(compiler)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    descriptor_set(&[API], &out.join("authyd_descriptor.bin"))?;
    descriptor_set(&[SANDBOX], &out.join("authyd_sandbox_descriptor.bin"))?;
    let all = descriptor_set(&[API, SANDBOX], &out.join("authyd_all_descriptor.bin"))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Messages that carry a secret get a redacting Debug, written in src/grpc/pb.rs.
        .skip_debug(SECRET_BEARING)
        .compile_fds(all.file_descriptor_set())?;
    println!("cargo:rerun-if-changed=proto");
    // sqlx::migrate! notices edits to existing migrations but not new files.
    println!("cargo:rerun-if-changed=src/store/migrations");
    Ok(())
}
