//! The restore drill end to end: pack, extract with the agent's own safe extractor
//! (`crate::archive`) into a scratch directory, check against the embedded manifest.

use std::time::Instant;

use super::super::super::archive::{self, Compression, Limits};
use super::super::{read_embedded_manifest, verify};
use super::{fixture, pack_to_vec};

#[test]
fn a_backup_restored_by_the_agent_extractor_passes_the_drill() {
    let fx = fixture();
    let (report, bytes) = pack_to_vec(&fx.spec);
    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("restore");
    let started = Instant::now();
    archive::unpack(
        bytes.as_slice(),
        Compression::Zstd,
        &dest,
        &Limits::default(),
    )
    .unwrap();
    let manifest = read_embedded_manifest(bytes.as_slice()).unwrap();
    let check = verify(&dest, &manifest).unwrap();
    assert!(check.passed(), "{:?}", check.problems);
    assert_eq!(check.files_checked, report.manifest.files.len() as u64);
    assert_eq!(check.bytes_checked, report.manifest.total_bytes());
    assert!(started.elapsed().as_secs() < 60);
}
