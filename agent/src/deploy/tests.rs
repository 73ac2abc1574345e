//! Deploys and rollbacks against a fake artifact source, with real archives, real hooks
//! and real signatures: what is verified, what is recorded, and what is refused.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::*;

/// Serves one artifact's bytes (whatever sha256 is asked for) and counts the fetches.
struct Bytes {
    data: Vec<u8>,
    fetches: Mutex<u32>,
}

impl ArtifactSource for Bytes {
    fn fetch_into<'a>(
        &'a self,
        _sha256: &'a str,
        offset: u64,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), FetchError>> + Send + 'a>>
    {
        Box::pin(async move {
            *self.fetches.lock().unwrap() += 1;
            let rest = &self.data[usize::try_from(offset).unwrap()..];
            hasher.update(rest);
            file.write_all(rest).await.map_err(FetchError::Write)?;
            file.flush().await.map_err(FetchError::Write)
        })
    }
}

mod cancel;

/// A tar.gz holding `convoy.toml` whose start hook appends to `<marker>`.
fn artifact(marker: &Path) -> Vec<u8> {
    artifact_with(&format!(
        "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo ran >> {}\"]\n",
        marker.display()
    ))
}

/// A tar.gz holding `convoy.toml` with this text.
fn artifact_with(manifest: &str) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "convoy.toml", manifest.as_bytes())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    outside: PathBuf,
    key: ed25519_dalek::SigningKey,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        Self {
            data_dir,
            outside,
            key: ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
            _dir: dir,
        }
    }

    fn deployer(&self, keys: Vec<(String, VerifyingKey)>, allow_unsigned: bool) -> Deployer {
        Deployer::new(DeployConfig {
            data_dir: self.data_dir.clone(),
            apps: BTreeMap::from([("web".to_string(), Manifest::default())]),
            trusted_keys: keys,
            allow_unsigned,
            keep_releases: 5,
            limits: Limits::default(),
        })
    }

    fn signed(&self) -> Deployer {
        self.deployer(vec![("ops".into(), self.key.verifying_key())], false)
    }

    fn app_dir(&self) -> PathBuf {
        self.data_dir.join("apps").join("web")
    }

    fn marker(&self) -> PathBuf {
        self.outside.join("hook-ran")
    }

    fn release(&self, version: &str, bytes: &[u8], sign: bool) -> Release {
        let sha256 = hex::encode(Sha256::digest(bytes));
        Release {
            app: "web".into(),
            version: version.into(),
            signature: if sign {
                convoy_proto::signing::sign(&self.key, "web", version, &sha256)
            } else {
                Vec::new()
            },
            sha256,
            size: bytes.len() as u64,
            signer: String::new(),
        }
    }
}

fn source(bytes: &[u8]) -> Bytes {
    Bytes {
        data: bytes.to_vec(),
        fetches: Mutex::new(0),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The message, as the command's result would carry it.
async fn deploy(deployer: &Deployer, release: &Release, source: &Bytes) -> Result<String, String> {
    deployer
        .deploy(release, source, &|_| {}, &CancellationToken::new())
        .await
        .map_err(|err| err.to_string())
}

async fn rollback(deployer: &Deployer, version: &str) -> Result<String, String> {
    deployer
        .rollback("web", version, &|_| {}, &CancellationToken::new())
        .await
        .map_err(|err| err.to_string())
}

#[tokio::test]
async fn a_signed_deploy_records_what_it_verified_in_private_files() {
    let world = World::new();
    let bytes = artifact(&world.marker());
    let release = world.release("1.0", &bytes, true);
    let deployer = world.signed();
    deploy(&deployer, &release, &source(&bytes)).await.unwrap();
    assert_eq!(
        state::current_version(&world.app_dir()).as_deref(),
        Some("1.0")
    );
    let kept = record::load(&world.app_dir(), "1.0").unwrap().unwrap();
    assert_eq!(
        (kept.sha256.as_str(), kept.signer.as_str()),
        (release.sha256.as_str(), "ops")
    );
    assert_eq!(kept.signature, hex::encode(&release.signature));
    assert_eq!(mode(&record::path(&world.app_dir(), "1.0")), 0o600);
    assert_eq!(mode(&world.app_dir().join("state.toml")), 0o600);
    assert_eq!(mode(&world.data_dir.join("downloads")), 0o700);
    assert!(
        world.marker().exists(),
        "the start hook of a verified release runs"
    );
}

#[tokio::test]
async fn names_that_leave_releases_are_refused_before_anything_runs() {
    let world = World::new();
    let bytes = artifact(&world.marker());
    // An "evil" release outside the app's releases/, with a hook that would leave a mark.
    let evil = world.outside.join("x");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(
        evil.join("convoy.toml"),
        format!(
            "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo ran >> {}\"]\n",
            world.marker().display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(world.app_dir().join("releases")).unwrap();
    let climb = "../../../../outside/x";
    for deployer in [world.signed(), world.deployer(Vec::new(), true)] {
        let err = rollback(&deployer, climb).await.unwrap_err();
        assert!(err.contains("invalid version"), "{err}");
        let mut release = world.release(climb, &bytes, false);
        release.signature = vec![7; 64];
        let err = deploy(&deployer, &release, &source(&bytes))
            .await
            .unwrap_err();
        assert!(err.contains("invalid version"), "{err}");
    }
    assert!(!world.marker().exists(), "no hook ran");
    assert!(std::fs::symlink_metadata(world.app_dir().join("current")).is_err());
}

#[tokio::test]
async fn a_kept_release_is_reused_only_for_the_same_verified_sha256() {
    let world = World::new();
    let bytes = artifact(&world.marker());
    let deployer = world.signed();
    let good = world.release("1.0", &bytes, true);
    deploy(&deployer, &good, &source(&bytes)).await.unwrap();
    // Garbage signature for the kept version: refused although the dir exists.
    let mut forged = good.clone();
    forged.signature = vec![1; 64];
    let err = deploy(&deployer, &forged, &source(&bytes))
        .await
        .unwrap_err();
    assert!(err.contains("bad signature"), "{err}");
    // Validly signed, but for other bytes than the host unpacked as 1.0.
    let other = artifact(&world.outside.join("other"));
    let err = deploy(
        &deployer,
        &world.release("1.0", &other, true),
        &source(&other),
    )
    .await
    .unwrap_err();
    assert!(err.contains("push a new version"), "{err}");
}

#[tokio::test]
async fn a_host_without_keys_or_the_opt_out_refuses_every_deploy() {
    let world = World::new();
    let bytes = artifact(&world.marker());
    let unconfigured = world.deployer(Vec::new(), false);
    assert_eq!(unconfigured.policy(), SignaturePolicy::Unconfigured);
    let fetched = source(&bytes);
    let err = deploy(&unconfigured, &world.release("1.0", &bytes, true), &fetched)
        .await
        .unwrap_err();
    assert!(err.contains("allow_unsigned_releases = true"), "{err}");
    assert_eq!(*fetched.fetches.lock().unwrap(), 0, "nothing fetched");
    // The unsigned release is refused by a signing host and runs on an opted-out one.
    let unsigned = world.release("1.0", &bytes, false);
    let err = deploy(&world.signed(), &unsigned, &fetched)
        .await
        .unwrap_err();
    assert!(err.contains("not signed"), "{err}");
    assert!(!world.marker().exists());
    let opted_out = world.deployer(Vec::new(), true);
    deploy(&opted_out, &unsigned, &fetched).await.unwrap();
    assert!(world.marker().exists());
    // Its record holds no signature, so a host that later trusts keys will not run it.
    let err = rollback(&world.signed(), "1.0").await.unwrap_err();
    assert!(err.contains("not signed"), "{err}");
}

#[tokio::test]
async fn rollbacks_recheck_the_record_and_the_signature() {
    let world = World::new();
    let deployer = world.signed();
    for version in ["1.0", "2.0"] {
        let bytes = artifact(&world.outside.join(version));
        deploy(
            &deployer,
            &world.release(version, &bytes, true),
            &source(&bytes),
        )
        .await
        .unwrap();
    }
    let app = world.app_dir();
    // A tampered record (another sha256, same signature) no longer verifies.
    let file = record::path(&app, "1.0");
    let original = std::fs::read_to_string(&file).unwrap();
    let kept = record::load(&app, "1.0").unwrap().unwrap();
    std::fs::write(&file, original.replace(&kept.sha256, &"0".repeat(64))).unwrap();
    let err = rollback(&deployer, "1.0").await.unwrap_err();
    assert!(err.contains("recorded signature"), "{err}");
    assert_eq!(state::current_version(&app).as_deref(), Some("2.0"));
    // The genuine record verifies while its key is trusted, not once the key is dropped.
    std::fs::write(&file, &original).unwrap();
    let rotated = world.deployer(
        vec![(
            "new".into(),
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key(),
        )],
        false,
    );
    let err = rollback(&rotated, "1.0").await.unwrap_err();
    assert!(err.contains("not made by any trusted release key"), "{err}");
    rollback(&deployer, "1.0").await.unwrap();
    assert_eq!(state::current_version(&app).as_deref(), Some("1.0"));
    // No record at all (an older agent's release): refused, with the way out.
    std::fs::remove_file(record::path(&app, "2.0")).unwrap();
    let err = rollback(&deployer, "2.0").await.unwrap_err();
    assert!(err.contains("deploy it again"), "{err}");
    // ...and deploying it again fetches and verifies it afresh.
    let bytes = artifact(&world.outside.join("2.0"));
    let fetched = source(&bytes);
    deploy(&deployer, &world.release("2.0", &bytes, true), &fetched)
        .await
        .unwrap();
    assert_eq!(*fetched.fetches.lock().unwrap(), 1);
    assert!(record::load(&app, "2.0").unwrap().is_some());
}

#[tokio::test]
async fn a_symlinked_release_dir_is_never_activated() {
    let world = World::new();
    let bytes = artifact(&world.marker());
    let deployer = world.signed();
    deploy(
        &deployer,
        &world.release("1.0", &bytes, true),
        &source(&bytes),
    )
    .await
    .unwrap();
    std::fs::remove_file(world.marker()).unwrap();
    let app = world.app_dir();
    // releases/3.0 -> a copy of 1.0 outside, with a copied (valid-looking) record.
    let copy = world.outside.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(
        app.join("releases/1.0/convoy.toml"),
        copy.join("convoy.toml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&copy, app.join("releases/3.0")).unwrap();
    let err = rollback(&deployer, "3.0").await.unwrap_err();
    assert!(err.contains("not a directory"), "{err}");
    assert!(!world.marker().exists());
    assert_eq!(state::current_version(&app).as_deref(), Some("1.0"));
}
