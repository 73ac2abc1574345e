//! Compiles the wire contract in `proto/convoy/v1/*.proto` into Rust at build time.
//!
//! `protox` parses the .proto files in pure Rust, so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from("proto");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("convoy/v1"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path.strip_prefix(&root)?.to_path_buf());
        }
    }
    files.sort();
    println!("cargo:rerun-if-changed=proto/convoy/v1");
    for file in &files {
        println!("cargo:rerun-if-changed=proto/{}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Deterministic order for labels in output and on disk.
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
