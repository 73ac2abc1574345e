//! `backup`: one real agent backs up a set of mixed files (many small files, a few large ones;
//! mostly incompressible, some compressible text), then restores it `--to` a fresh directory
//! and drills it, each through the real `convoy backup ...` CLI. Measures each command's wall
//! time, the agent's CPU time meanwhile and its resident memory (polled VmRSS and VmHWM). As
//! floors, before and after the runs, on the same data: `tar | zstd -3 -T1`, `tar | sha256sum`
//! and `zstd -d | tar -x` of a zstd -3 archive of it (`backup_data.rs`).
//!
//! The data set is built once per invocation and stays in the page cache (the machine has the
//! memory), so the figures are the CPU-bound path, not the disk. Each run uses a freshly
//! started agent, so its VmHWM after the backup covers that backup (and start-up) only.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::time::Instant;

use crate::backup_data::{DataSet, floors, make_data_set, mb_per_cpu_s, mb_per_s, same_trees};
use crate::fleet::{Fleet, Proc, Target, sibling_binary};
use crate::procfs::{CLK_TCK, median, mib, proc_status_kib};

const AGENT: &str = "backup-1";
const SET: &str = "bench";
/// Resident memory is polled this often while a command runs.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Bytes in the backed-up set, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Small files (1 byte to 32 KiB each, in nested directories).
    #[arg(long, default_value_t = 20_000)]
    small_files: u64,
    /// Backup, restore and drill rounds, each on a freshly started agent.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// One command's cost.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    wall: Duration,
    agent_cpu_s: f64,
    /// The kernel-mode part of `agent_cpu_s`.
    agent_sys_s: f64,
    agent_rss_max_kib: u64,
}

struct Round {
    backup: Phase,
    restore: Phase,
    drill: Phase,
    /// VmHWM right after the backup (a fresh agent: start-up + backup), and at the end.
    hwm_after_backup_kib: u64,
    hwm_end_kib: u64,
    rss_idle_kib: u64,
}

pub async fn backup_bench(args: &BackupArgs) -> anyhow::Result<()> {
    ensure!(
        args.size_mib >= 64 && args.runs > 0,
        "--size-mib must be at least 64 and --runs at least 1"
    );
    let fleet = Fleet::new(&[AGENT])?;
    let dir = fleet.dir().to_path_buf();
    let data = tokio::task::spawn_blocking({
        let (root, size, small) = (
            dir.join("backup-set"),
            args.size_mib << 20,
            args.small_files,
        );
        move || make_data_set(&root, size, small)
    })
    .await
    .context("the data builder panicked")??;
    println!(
        "backup: one convoy-agent backs up {} files, {:.1} MiB ({:.1} MiB of it compressible \
         text, the rest pseudo-random), restores it --to a fresh dir and drills it; {} runs",
        data.files,
        mib(data.bytes / 1024),
        mib(data.compressible / 1024),
        args.runs
    );
    let config = dir.join(format!("{AGENT}.toml"));
    let mut text = std::fs::read_to_string(&config)?;
    // Restores go `--to` directories under the bench's dir.
    text.push_str(&format!(
        "[backup]\nrestore_roots = [\"{}\"]\n[backup.sets.{SET}]\npaths = [\"{}\"]\n",
        dir.display(),
        data.root.display()
    ));
    std::fs::write(&config, text)?;
    // One backup kept between rounds (retention is the coordinator's).
    let coordinator_config = dir.join("coordinator.toml");
    let mut text = std::fs::read_to_string(&coordinator_config)?;
    text.push_str("[backups]\nmin_retention = \"0s\"\nkeep = 1\n");
    std::fs::write(&coordinator_config, text)?;

    floors(&data)?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let mut rounds = Vec::new();
    for run in 1..=args.runs {
        let round = round(&fleet, &data, run)
            .await
            .with_context(|| format!("run {run}\n{}", coordinator.log_tail()))?;
        print_round(run, &round, &data);
        rounds.push(round);
    }
    print_medians(&rounds, &data);
    // Once more on the file system as the runs left it (many inodes just freed: ext4 then
    // creates files more slowly), for a fair comparison with the restores.
    println!("the floors again, after the runs:");
    floors(&data)?;
    coordinator.terminate(Duration::from_secs(30)).await?;
    Ok(())
}

async fn round(fleet: &Fleet, data: &DataSet, run: usize) -> anyhow::Result<Round> {
    let mut agent = fleet.spawn_agent(AGENT)?;
    let online = fleet.wait_online(1, Duration::from_secs(30));
    tokio::select! {
        result = online => result.with_context(|| agent.log_tail())?,
        () = agent.exited() => bail!("the agent exited early\n{}", agent.log_tail()),
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_kib = proc_status_kib(agent.pid(), "VmRSS")?;
    let selector = "role=bench";
    let (backup, out) = measure(
        fleet,
        &mut agent,
        &["backup", "run", SET, "--selector", selector, "--wait"],
    )
    .await
    .context("backup run")?;
    let hwm_after_backup_kib = proc_status_kib(agent.pid(), "VmHWM")?;
    ensure!(out.contains("succeeded"), "backup run said:\n{out}");
    let listed = cli(fleet, &["backup", "list", "--set", SET, "-o", "json"]).await?;
    let list: serde_json::Value = serde_json::from_str(&listed)?;
    let newest = &list[0];
    ensure!(
        newest["state"] == "complete" && newest["files"].as_u64() >= Some(data.files),
        "unexpected backup list:\n{listed}"
    );
    let id = newest["id"].as_str().context("no backup id")?.to_string();
    println!(
        "       backup {id}: archive {:.1} MiB, {} entries",
        mib(newest["size"].as_u64().unwrap_or(0) / 1024),
        newest["files"]
    );

    let target = fleet.dir().join(format!("restored-{run}"));
    let target_arg = target.display().to_string();
    let (restore, out) = measure(
        fleet,
        &mut agent,
        &[
            "backup",
            "restore",
            &id,
            "--host",
            AGENT,
            "--to",
            &target_arg,
        ],
    )
    .await
    .context("backup restore")?;
    ensure!(out.contains("succeeded"), "backup restore said:\n{out}");
    let restored = target.join(data.root.strip_prefix("/").unwrap_or(&data.root));
    let same = tokio::task::spawn_blocking({
        let (a, b) = (data.root.clone(), restored.clone());
        move || same_trees(&a, &b)
    })
    .await
    .context("the tree comparer panicked")??;
    ensure!(
        same == data.files,
        "restored {same} of {} files",
        data.files
    );
    std::fs::remove_dir_all(&target)?;

    let (drill, out) = measure(
        fleet,
        &mut agent,
        &["backup", "drill", SET, "--selector", selector],
    )
    .await
    .context("backup drill")?;
    ensure!(out.contains("succeeded"), "backup drill said:\n{out}");
    let hwm_end_kib = proc_status_kib(agent.pid(), "VmHWM")?;
    agent.terminate(Duration::from_secs(10)).await?;
    fleet.wait_online(0, Duration::from_secs(15)).await?;
    Ok(Round {
        backup,
        restore,
        drill,
        hwm_after_backup_kib,
        hwm_end_kib,
        rss_idle_kib,
    })
}

/// Runs `convoy ARGS` to its end, polling the agent's memory and reading its CPU time.
async fn measure(
    fleet: &Fleet,
    agent: &mut Proc,
    args: &[&str],
) -> anyhow::Result<(Phase, String)> {
    let pid = agent.pid();
    let (user_before, sys_before) = user_sys_ticks(pid)?;
    let started = Instant::now();
    let child = cli_command(fleet, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start convoy")?;
    // Dropped early, the child is killed (kill_on_drop).
    let finished = child.wait_with_output();
    tokio::pin!(finished);
    let mut rss_max = proc_status_kib(pid, "VmRSS")?;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let output = loop {
        tokio::select! {
            output = &mut finished => break output?,
            _ = tick.tick() => {
                rss_max = rss_max.max(proc_status_kib(pid, "VmRSS")?);
                agent.ensure_running()?;
            }
        }
    };
    let wall = started.elapsed();
    let (user_after, sys_after) = user_sys_ticks(pid)?;
    rss_max = rss_max.max(proc_status_kib(pid, "VmRSS")?);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "convoy {args:?} exited {}:\n{stdout}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        agent.log_tail()
    );
    #[allow(clippy::cast_precision_loss)]
    let seconds = |ticks: u64| ticks as f64 / *CLK_TCK as f64;
    let agent_sys_s = seconds(sys_after - sys_before);
    Ok((
        Phase {
            wall,
            agent_cpu_s: seconds(user_after - user_before) + agent_sys_s,
            agent_sys_s,
            agent_rss_max_kib: rss_max,
        },
        stdout,
    ))
}

/// The CLI with the fleet's operator certificate.
fn cli_command(fleet: &Fleet, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(
        sibling_binary("convoy").unwrap_or_else(|_| PathBuf::from("convoy")),
    );
    let operator = fleet.operator();
    command
        .args(args)
        .current_dir(fleet.dir())
        .env("CONVOY_ADDR", fleet.url())
        .env(
            "CONVOY_CA",
            fleet.ca_dir().join(convoy_coordinator::pki::CA_CERT_FILE),
        )
        .env("CONVOY_CERT", &operator.cert)
        .env("CONVOY_KEY", &operator.key)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn cli(fleet: &Fleet, args: &[&str]) -> anyhow::Result<String> {
    let output = cli_command(fleet, args).output().await?;
    ensure!(
        output.status.success(),
        "convoy {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// utime and stime of a process, in clock ticks.
fn user_sys_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    ensure!(fields.len() == 2, "malformed {path}");
    Ok((fields[0], fields[1]))
}

fn print_round(run: usize, r: &Round, data: &DataSet) {
    for (what, p) in [
        ("backup", r.backup),
        ("restore", r.restore),
        ("drill", r.drill),
    ] {
        println!(
            "run {run}: {what:<7} {:.2} s ({:.0} MB/s); agent cpu {:.2} s (sys {:.2} s; {:.0} MB/s \
             per core second); agent rss max {:.1} MiB",
            p.wall.as_secs_f64(),
            mb_per_s(data.bytes, p.wall),
            p.agent_cpu_s,
            p.agent_sys_s,
            mb_per_cpu_s(data.bytes, p.agent_cpu_s),
            mib(p.agent_rss_max_kib)
        );
    }
    println!(
        "       agent rss idle {:.1} MiB; VmHWM after the backup {:.1} MiB, at the end {:.1} MiB",
        mib(r.rss_idle_kib),
        mib(r.hwm_after_backup_kib),
        mib(r.hwm_end_kib)
    );
}

fn print_medians(rounds: &[Round], data: &DataSet) {
    let of = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    for (what, phase) in [
        ("backup", (|r: &Round| r.backup) as fn(&Round) -> Phase),
        ("restore", |r: &Round| r.restore),
        ("drill", |r: &Round| r.drill),
    ] {
        let wall = of(&|r| phase(r).wall.as_secs_f64());
        let cpu = of(&|r| phase(r).agent_cpu_s);
        let sys = of(&|r| phase(r).agent_sys_s);
        #[allow(clippy::cast_precision_loss)]
        let rss = of(&|r| phase(r).agent_rss_max_kib as f64) / 1024.0;
        println!(
            "median {what:<7}: {wall:.2} s ({:.0} MB/s); agent cpu {cpu:.2} s (sys {sys:.2} s; \
             {:.0} MB/s per core second); agent rss max {rss:.1} MiB",
            mb_per_s(data.bytes, Duration::from_secs_f64(wall)),
            mb_per_cpu_s(data.bytes, cpu),
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let hwm = of(&|r| r.hwm_after_backup_kib as f64) / 1024.0;
    #[allow(clippy::cast_precision_loss)]
    let hwm_end = of(&|r| r.hwm_end_kib as f64) / 1024.0;
    println!("median agent VmHWM: {hwm:.1} MiB after the backup, {hwm_end:.1} MiB at the end");
}
