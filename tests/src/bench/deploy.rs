//! `deploy`: one real agent fetches, verifies and unpacks a large release artifact.
//! Measures the transfer rate (from the agent's own download file filling up), the time of
//! each phase of the deploy, and the agent's resident memory throughout; then, as the floor,
//! the same bytes fetched straight from the coordinator's `FetchArtifact` by this process.
//!
//! The artifact is a tar.zst of incompressible pseudo-random files, built once per
//! invocation with bounded memory, and pushed once per run under a new version (the same
//! bytes, so the coordinator keeps one copy, but the agent downloads it again: it keeps
//! downloads by sha256 only until they are unpacked, and unpacks into `releases/<version>`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    CommandState, DeploySpec, FetchArtifactRequest, GetCommandOutputRequest, Job, JobEvent,
    JobState, PushReleaseChunk, Release, ReleaseMeta, StartJobRequest, WatchJobRequest, job_event,
    push_release_chunk,
};
use convoy_tests::CertFiles;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::fleet::{Fleet, Proc, Target};
use crate::procfs::{CLK_TCK, cpu_ticks, median, mib, proc_status_kib};

/// The agent that deploys, and the identity the floor client fetches with.
const AGENT: &str = "deploy-1";
const FLOOR_CLIENT: &str = "fetch-floor";
const APP: &str = "bench";
/// Push chunks, as the CLI sends them; the coordinator serves 256 KiB chunks too.
const CHUNK_BYTES: usize = 256 * 1024;
/// How often the download file and the release directory are looked at.
const POLL: Duration = Duration::from_millis(10);
/// Resident memory is read every this many polls (50 ms).
const RSS_EVERY: u32 = 5;

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Uncompressed bytes in the artifact, in MiB (incompressible, so the artifact is as large).
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Files in the artifact.
    #[arg(long, default_value_t = 64)]
    files: u64,
    /// Deploys to measure, each of a new version and on a freshly started agent.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A deploy that has not ended this long after StartJob fails the bench.
    #[arg(long, default_value = "600s", value_parser = humantime::parse_duration)]
    job_timeout: Duration,
}

/// The artifact on disk.
struct Artifact {
    path: PathBuf,
    size: u64,
    sha256: String,
}

/// When each phase of one deploy was first seen (polling every 10 ms).
#[derive(Default)]
struct Seen {
    /// `downloads/<sha>.part` exists: the agent is about to connect and fetch.
    part_created: Option<Instant>,
    /// It holds every byte of the artifact.
    part_full: Option<Instant>,
    /// `releases/<version>.partial-*` exists: the sha256 pass is over, unpacking began.
    unpack_started: Option<Instant>,
    /// `releases/<version>` exists: unpacked and renamed into place.
    unpacked: Option<Instant>,
    /// CPU ticks when the download started and ended.
    ticks_at_part_created: Option<Ticks>,
    ticks_at_part_full: Option<Ticks>,
}

/// CPU clock ticks used so far: the agent's in user and kernel mode, the coordinator's.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    agent_user: u64,
    agent_sys: u64,
    coordinator: u64,
}

impl Ticks {
    fn read(agent: u32, coordinator: u32) -> anyhow::Result<Self> {
        let (agent_user, agent_sys) = user_sys_ticks(agent)?;
        Ok(Self {
            agent_user,
            agent_sys,
            coordinator: cpu_ticks(coordinator)?,
        })
    }
}

/// Agent CPU seconds over a phase: user and kernel mode.
#[derive(Debug, Clone, Copy)]
struct AgentCpu {
    user: f64,
    sys: f64,
}

impl AgentCpu {
    fn between(from: Ticks, to: Ticks) -> Self {
        Self {
            user: cpu_s(to.agent_user - from.agent_user),
            sys: cpu_s(to.agent_sys - from.agent_sys),
        }
    }

    fn total(self) -> f64 {
        self.user + self.sys
    }
}

/// utime and stime of a process, in clock ticks.
fn user_sys_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |at: usize| -> anyhow::Result<u64> {
        fields
            .get(at)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("malformed {path}"))
    };
    Ok((field(11)?, field(12)?))
}

struct DeployRun {
    push: Duration,
    /// StartJob sent → WatchJob's Finished event.
    total: Duration,
    /// StartJob sent → the download file appeared.
    to_download: Duration,
    download: Duration,
    /// Download complete → unpacking began: the agent's second pass hashing the file.
    verify: Duration,
    unpack: Duration,
    /// Unpacked → the job finished (symlink switch, state, events stored).
    activate: Duration,
    agent_rss_before_kib: u64,
    agent_rss_max_kib: u64,
    agent_hwm_kib: u64,
    agent_cpu_download: AgentCpu,
    agent_cpu_after: AgentCpu,
    coordinator_cpu_download_s: f64,
    coordinator_rss_max_kib: u64,
    floor: Floor,
    floor_to_file: Floor,
}

/// One fetch of the artifact by this process.
struct Floor {
    took: Duration,
    /// This process's CPU time meanwhile (it does nothing else then).
    cpu_s: f64,
}

impl DeployRun {
    /// Download complete → job finished: verify, unpack and activate.
    fn after_download(&self) -> Duration {
        self.verify + self.unpack + self.activate
    }
}

pub async fn deploy_bench(args: &DeployArgs) -> anyhow::Result<()> {
    ensure!(
        args.size_mib > 0 && args.files > 0 && args.runs > 0,
        "--size-mib, --files and --runs must be at least 1"
    );
    println!(
        "deploy: one convoy-agent fetches, verifies and unpacks a tar.zst of {} MiB in {} \
         incompressible files, {} runs",
        args.size_mib, args.files, args.runs
    );
    let fleet = Fleet::new(&[AGENT, FLOOR_CLIENT])?;
    let dir = fleet
        .ca_dir()
        .parent()
        .context("the fleet's pki dir has no parent")?
        .to_path_buf();
    // The agent may deploy `bench`; an empty table means the release's own manifest (none).
    // The bench pushes unsigned releases (as admin), so this host opts out of signatures
    // (a top-level key: it goes before the tables).
    let config = dir.join(format!("{AGENT}.toml"));
    let mut text = format!(
        "allow_unsigned_releases = true\n{}",
        std::fs::read_to_string(&config)?
    );
    text.push_str("[apps.bench]\n");
    std::fs::write(&config, text)?;
    let agent_data = dir.join(format!("{AGENT}-data"));
    let floor_certs = CertFiles {
        cert: fleet.ca_dir().join(format!("{FLOOR_CLIENT}.pem")),
        key: fleet.ca_dir().join(format!("{FLOOR_CLIENT}.key")),
    };

    let artifact = make_artifact(&dir, args).await?;
    disk_read_floor(&artifact)?;

    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let mut admin = fleet.admin().await?;
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let version = format!("r{run}");
        let result = deploy_run(
            &fleet,
            &mut admin,
            &coordinator,
            &artifact,
            &agent_data,
            &floor_certs,
            &version,
            args,
        )
        .await
        .with_context(|| format!("run {run}\n{}", coordinator.log_tail()))?;
        print_run(run, &result, artifact.size);
        runs.push(result);
    }
    print_medians(&runs, artifact.size);
    coordinator.terminate(Duration::from_secs(30)).await?;
    Ok(())
}

/// Builds the artifact, then hashes it in a separate pass (timed: what the agent's own
/// verification pass costs at best).
async fn make_artifact(dir: &Path, args: &DeployArgs) -> anyhow::Result<Artifact> {
    let path = dir.join("artifact.tar.zst");
    let total = args.size_mib * 1024 * 1024;
    let started = Instant::now();
    tokio::task::spawn_blocking({
        let (path, files) = (path.clone(), args.files);
        move || build_artifact(&path, total, files)
    })
    .await
    .context("the artifact builder panicked")??;
    let built = started.elapsed();
    let started = Instant::now();
    let (sha256, size) = tokio::task::spawn_blocking({
        let path = path.clone();
        move || hash_file(&path)
    })
    .await
    .context("the hasher panicked")??;
    let hashed = started.elapsed();
    println!(
        "artifact: {size} bytes ({:.1} MiB) tar.zst, sha256 {sha256}; built in {:.2} s; \
         one sha256 pass over it: {:.2} s ({:.0} MB/s)",
        mib(size / 1024),
        built.as_secs_f64(),
        hashed.as_secs_f64(),
        mb_per_s(size, hashed)
    );
    Ok(Artifact { path, size, sha256 })
}

/// A tar.zst (level 1) of `files` files of pseudo-random bytes, `total` bytes in all,
/// streamed to disk (bounded memory) and synced.
fn build_artifact(path: &Path, total: u64, files: u64) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let encoder =
        zstd::stream::write::Encoder::new(std::io::BufWriter::with_capacity(1 << 20, file), 1)?;
    let mut builder = tar::Builder::new(encoder);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut rng = WyRand(seed);
    for index in 0..files {
        let size = total / files + u64::from(index < total % files);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        let reader = RandomReader {
            rng: &mut rng,
            left: size,
        };
        builder.append_data(&mut header, format!("part-{index:03}.bin"), reader)?;
    }
    let mut writer = builder.into_inner()?.finish()?;
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(())
}

/// wyrand: fast, and random enough that zstd finds nothing to compress.
struct WyRand(u64);

impl WyRand {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }
}

/// `left` pseudo-random bytes.
struct RandomReader<'a> {
    rng: &'a mut WyRand,
    left: u64,
}

impl Read for RandomReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let out = &mut buf[..n];
        let mut words = out.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.rng.next().to_le_bytes());
        }
        let tail = words.into_remainder();
        let last = self.rng.next().to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
        self.left -= n as u64;
        Ok(n)
    }
}

fn hash_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut size = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok((hex::encode(hasher.finalize()), size));
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
}

/// `cat artifact > /dev/null`: reading the file from the page cache, for context.
fn disk_read_floor(artifact: &Artifact) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let status = Command::new("cat")
        .arg(&artifact.path)
        .stdout(Stdio::null())
        .status()
        .context("cannot run cat")?;
    ensure!(status.success(), "cat failed: {status}");
    let took = started.elapsed();
    println!(
        "cat artifact > /dev/null: {:.2} s ({:.0} MB/s)",
        took.as_secs_f64(),
        mb_per_s(artifact.size, took)
    );
    Ok(())
}

/// Pushes the artifact as `version` in 256 KiB chunks read from disk (bounded memory).
async fn push(
    admin: &mut AdminClient<Channel>,
    artifact: &Artifact,
    version: &str,
) -> anyhow::Result<Release> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let meta = PushReleaseChunk {
        body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
            app: APP.into(),
            version: version.into(),
            sha256: artifact.sha256.clone(),
            ..Default::default()
        })),
    };
    tx.send(meta).await.context("the push queue closed")?;
    let path = artifact.path.clone();
    let reader = tokio::spawn(async move {
        let mut file = tokio::fs::File::open(&path).await?;
        loop {
            let mut data = vec![0u8; CHUNK_BYTES];
            let read = file.read(&mut data).await?;
            if read == 0 {
                return anyhow::Ok(());
            }
            data.truncate(read);
            let chunk = PushReleaseChunk {
                body: Some(push_release_chunk::Body::Data(data)),
            };
            if tx.send(chunk).await.is_err() {
                // The call ended early; its status says why.
                return Ok(());
            }
        }
    });
    let pushed = admin.push_release(ReceiverStream::new(rx)).await;
    reader.await.context("the push reader panicked")??;
    let release = pushed.context("PushRelease failed")?.into_inner();
    ensure!(
        release.sha256 == artifact.sha256
            && release.size == artifact.size
            && release.format == "tar.zst",
        "the coordinator stored {} {} bytes {}",
        release.sha256,
        release.size,
        release.format
    );
    Ok(release)
}

#[allow(clippy::too_many_arguments)]
async fn deploy_run(
    fleet: &Fleet,
    admin: &mut AdminClient<Channel>,
    coordinator: &Proc,
    artifact: &Artifact,
    agent_data: &Path,
    floor_certs: &CertFiles,
    version: &str,
    args: &DeployArgs,
) -> anyhow::Result<DeployRun> {
    let started = Instant::now();
    push(admin, artifact, version).await?;
    let push_took = started.elapsed();
    // Write back what the push (and earlier runs) left dirty, so the deploy does not
    // share the disk with it.
    let synced = Command::new("sync").status().context("cannot run sync")?;
    ensure!(synced.success(), "sync failed");

    // A fresh agent per run: its VmHWM then covers this deploy only (and its start-up).
    let mut agent = fleet.spawn_agent(AGENT)?;
    let online = fleet.wait_online(1, Duration::from_secs(30));
    tokio::select! {
        result = online => result.with_context(|| agent.log_tail())?,
        () = agent.exited() => bail!("the agent exited early\n{}", agent.log_tail()),
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let agent_rss_before_kib = proc_status_kib(agent.pid(), "VmRSS")?;

    let m = measure_deploy(
        admin,
        coordinator,
        &mut agent,
        artifact,
        agent_data,
        version,
        args,
    )
    .await
    .with_context(|| agent.log_tail())?;
    verify_deploy(
        admin,
        &m.job,
        agent_data,
        version,
        artifact.size,
        args.files,
    )
    .await?;
    agent.terminate(Duration::from_secs(10)).await?;
    fleet.wait_online(0, Duration::from_secs(10)).await?;

    let floor = fetch_floor(fleet, floor_certs, artifact, None).await?;
    let scratch = agent_data.with_file_name("floor-download");
    let floor_to_file = fetch_floor(fleet, floor_certs, artifact, Some(&scratch)).await?;
    let _ = std::fs::remove_file(&scratch);

    let at = |when: Option<Instant>, what: &str| {
        when.with_context(|| {
            format!("missed the moment {what} (polling every {POLL:?}); use a larger --size-mib")
        })
    };
    let seen = &m.seen;
    let part_created = at(seen.part_created, "the download started")?;
    let part_full = at(seen.part_full, "the download completed")?;
    let unpack_started = at(seen.unpack_started, "unpacking started")?;
    let unpacked = at(seen.unpacked, "unpacking ended")?;
    let t0 = seen.ticks_at_part_created.unwrap_or(m.ticks_before);
    let t1 = seen.ticks_at_part_full.unwrap_or(m.ticks_after);
    Ok(DeployRun {
        push: push_took,
        total: m.finished_at - m.sent,
        to_download: part_created - m.sent,
        download: part_full - part_created,
        verify: unpack_started - part_full,
        unpack: unpacked - unpack_started,
        activate: m.finished_at.saturating_duration_since(unpacked),
        agent_rss_before_kib,
        agent_rss_max_kib: m.agent_rss_max_kib,
        agent_hwm_kib: m.agent_hwm_kib,
        agent_cpu_download: AgentCpu::between(t0, t1),
        agent_cpu_after: AgentCpu::between(t1, m.ticks_after),
        coordinator_cpu_download_s: cpu_s(t1.coordinator - t0.coordinator),
        coordinator_rss_max_kib: m.coordinator_rss_max_kib,
        floor,
        floor_to_file,
    })
}

/// What watching one deploy saw.
struct Measured {
    seen: Seen,
    job: Job,
    sent: Instant,
    finished_at: Instant,
    agent_rss_max_kib: u64,
    agent_hwm_kib: u64,
    coordinator_rss_max_kib: u64,
    /// CPU ticks before StartJob and after the Finished event.
    ticks_before: Ticks,
    ticks_after: Ticks,
}

/// Starts the deploy and watches it: the download file, the release directory and resident
/// memory, until the job's Finished event arrives.
async fn measure_deploy(
    admin: &mut AdminClient<Channel>,
    coordinator: &Proc,
    agent: &mut Proc,
    artifact: &Artifact,
    agent_data: &Path,
    version: &str,
    args: &DeployArgs,
) -> anyhow::Result<Measured> {
    let part = agent_data
        .join("downloads")
        .join(format!("{}.part", artifact.sha256));
    let releases = agent_data.join("apps").join(APP).join("releases");
    let partial_prefix = format!("{version}.partial-");
    let (agent_pid, coordinator_pid) = (agent.pid(), coordinator.pid());
    let ticks = || Ticks::read(agent_pid, coordinator_pid);
    let ticks_before = ticks()?;
    let sent = Instant::now();
    let job = admin
        .start_job(StartJobRequest {
            deploy: Some(DeploySpec {
                app: APP.into(),
                version: version.into(),
            }),
            ..Default::default()
        })
        .await
        .context("StartJob failed")?
        .into_inner();
    let mut watcher = admin.clone();
    let mut watch = tokio::spawn(async move {
        let mut events = watcher
            .watch_job(WatchJobRequest { id: job.id.clone() })
            .await
            .context("WatchJob failed")?
            .into_inner();
        loop {
            match events.message().await.context("WatchJob stream failed")? {
                Some(JobEvent {
                    body: Some(job_event::Body::Finished(job)),
                }) => return anyhow::Ok((job, Instant::now())),
                Some(_) => {}
                None => bail!("WatchJob ended without the finished job"),
            }
        }
    });

    let mut seen = Seen::default();
    let mut agent_rss_max = 0;
    let mut coordinator_rss_max = 0;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let deadline = sent + args.job_timeout;
    let mut polls = 0u32;
    let watched = loop {
        tokio::select! {
            joined = &mut watch => break joined.context("the job watcher panicked"),
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if let Ok(meta) = std::fs::metadata(&part) {
            if seen.part_created.is_none() {
                seen.part_created = Some(now);
                seen.ticks_at_part_created = ticks().ok();
            }
            if meta.len() >= artifact.size && seen.part_full.is_none() {
                seen.part_full = Some(now);
                seen.ticks_at_part_full = ticks().ok();
            }
        }
        if seen.unpacked.is_none() {
            if let Ok(entries) = std::fs::read_dir(&releases) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with(&partial_prefix) {
                        seen.unpack_started.get_or_insert(now);
                    } else if name == version {
                        seen.unpack_started.get_or_insert(now);
                        seen.unpacked = Some(now);
                    }
                }
            }
        }
        polls += 1;
        if polls % RSS_EVERY == 0 {
            agent_rss_max = agent_rss_max.max(proc_status_kib(agent_pid, "VmRSS")?);
            coordinator_rss_max =
                coordinator_rss_max.max(proc_status_kib(coordinator_pid, "VmRSS")?);
        }
        let running = agent.ensure_running();
        if running.is_err() || now > deadline {
            watch.abort();
            running?;
            bail!("the deploy did not end within {:?}", args.job_timeout);
        }
    };
    let (job, finished_at) = watched??;
    let ticks_after = ticks()?;
    agent_rss_max = agent_rss_max.max(proc_status_kib(agent_pid, "VmRSS")?);
    Ok(Measured {
        seen,
        job,
        sent,
        finished_at,
        agent_rss_max_kib: agent_rss_max,
        agent_hwm_kib: proc_status_kib(agent_pid, "VmHWM")?,
        coordinator_rss_max_kib: coordinator_rss_max,
        ticks_before,
        ticks_after,
    })
}

/// The job succeeded, the agent says it verified and unpacked every file, and the release
/// directory holds every byte.
async fn verify_deploy(
    admin: &mut AdminClient<Channel>,
    job: &Job,
    agent_data: &Path,
    version: &str,
    artifact_size: u64,
    files: u64,
) -> anyhow::Result<()> {
    let host = job.hosts.first();
    ensure!(
        job.state == JobState::Succeeded as i32
            && job.hosts.len() == 1
            && host.is_some_and(|h| h.state == CommandState::Succeeded as i32),
        "the deploy ended {:?}: {:?}",
        JobState::try_from(job.state).unwrap_or(JobState::Unspecified),
        host.map(|h| h.message.as_str())
    );
    let output = admin
        .get_command_output(GetCommandOutputRequest {
            job_id: job.id.clone(),
            host: AGENT.into(),
            ..Default::default()
        })
        .await
        .context("GetCommandOutput failed")?
        .into_inner();
    let progress = String::from_utf8_lossy(&output.data);
    ensure!(
        progress.contains("verified") && progress.contains(&format!("unpacked {files} files")),
        "unexpected deploy output:\n{progress}"
    );
    let dir = agent_data
        .join("apps")
        .join(APP)
        .join("releases")
        .join(version);
    let mut bytes = 0;
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        bytes += entry?.metadata()?.len();
    }
    // The tar headers and zstd framing are the difference.
    ensure!(
        bytes <= artifact_size && artifact_size - bytes < artifact_size / 100 + 1024 * 1024,
        "{} holds {bytes} bytes, the artifact {artifact_size}",
        dir.display()
    );
    Ok(())
}

/// The floor: the same artifact from the coordinator's `FetchArtifact`, fetched by this
/// process with an agent certificate over a new mTLS connection (as the agent does), the
/// chunks dropped or (with `file`) appended to a file as the agent does.
async fn fetch_floor(
    fleet: &Fleet,
    certs: &CertFiles,
    artifact: &Artifact,
    file: Option<&Path>,
) -> anyhow::Result<Floor> {
    let mut out = match file {
        Some(path) => Some(
            tokio::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(path)
                .await
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };
    let ca = fleet.ca_dir().join(convoy_coordinator::pki::CA_CERT_FILE);
    let ticks_before = cpu_ticks(std::process::id())?;
    let started = Instant::now();
    let channel = convoy_tests::channel(&fleet.url(), &ca, Some(certs)).await?;
    let mut client =
        AgentLinkClient::new(channel).max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES);
    let mut stream = client
        .fetch_artifact(FetchArtifactRequest {
            sha256: artifact.sha256.clone(),
            offset: 0,
        })
        .await
        .context("FetchArtifact failed")?
        .into_inner();
    let mut got = 0u64;
    while let Some(chunk) = stream.message().await.context("the download broke off")? {
        ensure!(
            chunk.offset == got,
            "chunk at {} expected {got}",
            chunk.offset
        );
        if let Some(out) = out.as_mut() {
            out.write_all(&chunk.data).await?;
        }
        got += chunk.data.len() as u64;
    }
    if let Some(out) = out.as_mut() {
        out.flush().await?;
    }
    let took = started.elapsed();
    let cpu = cpu_s(cpu_ticks(std::process::id())? - ticks_before);
    ensure!(
        got == artifact.size,
        "fetched {got} of {} bytes",
        artifact.size
    );
    Ok(Floor { took, cpu_s: cpu })
}

#[allow(clippy::cast_precision_loss)]
fn cpu_s(ticks: u64) -> f64 {
    ticks as f64 / *CLK_TCK as f64
}

/// Decimal megabytes per second.
#[allow(clippy::cast_precision_loss)]
fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn print_run(run: usize, r: &DeployRun, size: u64) {
    println!(
        "run {run}: push {:.2} s; deploy {:.2} s = StartJob->download {:.3} s + download {:.2} s \
         ({:.0} MB/s) + verify {:.2} s + unpack {:.2} s + activate {:.3} s",
        r.push.as_secs_f64(),
        r.total.as_secs_f64(),
        r.to_download.as_secs_f64(),
        r.download.as_secs_f64(),
        mb_per_s(size, r.download),
        r.verify.as_secs_f64(),
        r.unpack.as_secs_f64(),
        r.activate.as_secs_f64(),
    );
    let (d, a) = (r.agent_cpu_download, r.agent_cpu_after);
    println!(
        "       agent rss before {:.1} MiB, max {:.1} MiB, VmHWM {:.1} MiB; agent cpu downloading \
         {:.2} s (user {:.2} + sys {:.2}), after {:.2} s (user {:.2} + sys {:.2}); coordinator \
         cpu {:.2} s while serving, rss max {:.1} MiB",
        mib(r.agent_rss_before_kib),
        mib(r.agent_rss_max_kib),
        mib(r.agent_hwm_kib),
        d.total(),
        d.user,
        d.sys,
        a.total(),
        a.user,
        a.sys,
        r.coordinator_cpu_download_s,
        mib(r.coordinator_rss_max_kib),
    );
    println!(
        "       floor: FetchArtifact dropped {:.2} s ({:.0} MB/s, client cpu {:.2} s), to a file \
         {:.2} s ({:.0} MB/s, client cpu {:.2} s); ours / floor = {:.2}, ours / to a file = {:.2}",
        r.floor.took.as_secs_f64(),
        mb_per_s(size, r.floor.took),
        r.floor.cpu_s,
        r.floor_to_file.took.as_secs_f64(),
        mb_per_s(size, r.floor_to_file.took),
        r.floor_to_file.cpu_s,
        mb_per_s(size, r.download) / mb_per_s(size, r.floor.took),
        mb_per_s(size, r.download) / mb_per_s(size, r.floor_to_file.took),
    );
}

#[allow(clippy::cast_precision_loss)]
fn print_medians(runs: &[DeployRun], size: u64) {
    let med = |f: &dyn Fn(&DeployRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let rate = med(&|r| mb_per_s(size, r.download));
    let floor = med(&|r| mb_per_s(size, r.floor.took));
    let hwm_max = runs.iter().map(|r| r.agent_hwm_kib).max().unwrap_or(0);
    let rss_max = runs.iter().map(|r| r.agent_rss_max_kib).max().unwrap_or(0);
    println!(
        "median: download {rate:.0} MB/s (floor {floor:.0} MB/s, to a file {:.0} MB/s; ours / \
         floor {:.2}); deploy {:.2} s end to end, {:.2} s after the download (verify {:.2} s, \
         unpack {:.2} s); agent cpu downloading {:.2} s; agent rss max {:.1} MiB, VmHWM {:.1} MiB",
        med(&|r| mb_per_s(size, r.floor_to_file.took)),
        med(&|r| mb_per_s(size, r.download) / mb_per_s(size, r.floor.took)),
        med(&|r| r.total.as_secs_f64()),
        med(&|r| r.after_download().as_secs_f64()),
        med(&|r| r.verify.as_secs_f64()),
        med(&|r| r.unpack.as_secs_f64()),
        med(&|r| r.agent_cpu_download.total()),
        med(&|r| r.agent_rss_max_kib as f64 / 1024.0),
        med(&|r| r.agent_hwm_kib as f64 / 1024.0),
    );
    let peak = hwm_max.max(rss_max);
    println!(
        "targets: transfer >= 200 MB/s: {} (median {rate:.0} MB/s); agent memory < 32 MiB: {} \
         (highest of VmHWM and sampled VmRSS over all runs: {:.1} MiB)",
        if rate >= 200.0 { "met" } else { "NOT met" },
        if peak < 32 * 1024 { "met" } else { "NOT met" },
        mib(peak),
    );
}
