//! The `backup` bench's data set (many small files, a few large ones, some compressible
//! text), the check that a restored tree matches it, and the floors: `tar`, `zstd` and
//! `sha256sum` on the same data.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, ensure};

use crate::procfs::{CLK_TCK, mib};

/// The data set on disk.
pub struct DataSet {
    pub root: PathBuf,
    pub files: u64,
    pub bytes: u64,
    pub compressible: u64,
}

/// `size` bytes: `small` files of 1 B..32 KiB in 2-level nested dirs, 1/8 of the total as
/// compressible log-like text in 4 files, the rest in 8 large pseudo-random files.
pub fn make_data_set(root: &Path, size: u64, small: u64) -> anyhow::Result<DataSet> {
    let mut rng = WyRand(0x9e37_79b9_7f4a_7c15);
    let mut bytes = 0;
    let mut files = 0;
    for index in 0..small {
        let dir = root.join(format!("d{:02}/e{:02}", index % 32, (index / 32) % 16));
        if index < 512 {
            std::fs::create_dir_all(&dir)?;
        }
        let len = 1 + rng.next() % (32 * 1024);
        write_random(&dir.join(format!("f{index:06}.bin")), len, &mut rng)?;
        bytes += len;
        files += 1;
    }
    let compressible = size / 8;
    let text_dir = root.join("logs");
    std::fs::create_dir_all(&text_dir)?;
    for index in 0..4 {
        let path = text_dir.join(format!("app-{index}.log"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut written = 0;
        let mut line = 0u64;
        while written < compressible / 4 {
            let text = format!(
                "2025-01-01T03:{:02}:{:02}Z INFO request id={} path=/api/v1/items/{} status=200 \
                 took_ms={}\n",
                (line / 60) % 60,
                line % 60,
                rng.next() % 1_000_000,
                rng.next() % 5000,
                rng.next() % 900
            );
            out.write_all(text.as_bytes())?;
            written += text.len() as u64;
            line += 1;
        }
        out.flush()?;
        bytes += written;
        files += 1;
    }
    let large_total = size.saturating_sub(bytes);
    let large_dir = root.join("large");
    std::fs::create_dir_all(&large_dir)?;
    for index in 0..8u64 {
        let len = large_total / 8 + u64::from(index < large_total % 8);
        write_random(&large_dir.join(format!("blob-{index}.bin")), len, &mut rng)?;
        bytes += len;
        files += 1;
    }
    // A few modes other than the default, so a restore that loses them shows.
    let script = root.join("logs/app-0.log");
    std::fs::set_permissions(
        &script,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )?;
    Ok(DataSet {
        root: root.to_path_buf(),
        files,
        bytes,
        compressible: compressible / 4 * 4,
    })
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

/// `len` pseudo-random bytes into a new file, written 64 KiB at a time.
fn write_random(path: &Path, len: u64, rng: &mut WyRand) -> anyhow::Result<()> {
    let mut out = std::fs::File::create(path)?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        for word in buffer[..n].chunks_mut(8) {
            let bytes = rng.next().to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        out.write_all(&buffer[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Counts the files of `a` found in `b` with the same bytes and mode; errors on the first
/// difference.
pub fn same_trees(a: &Path, b: &Path) -> anyhow::Result<u64> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut same = 0;
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(a.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let other = b.join(&path);
            let other_meta = std::fs::metadata(&other)
                .with_context(|| format!("{} is missing", other.display()))?;
            ensure!(
                other_meta.permissions().mode() == meta.permissions().mode()
                    && std::fs::read(a.join(&path))? == std::fs::read(&other)?,
                "{} differs",
                other.display()
            );
            same += 1;
        }
    }
    Ok(same)
}

/// A shell pipeline's wall time and its processes' CPU time (this process's waited-for
/// children).
fn timed_shell(script: &str) -> anyhow::Result<(Duration, f64)> {
    let before = children_ticks()?;
    let started = std::time::Instant::now();
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .status()
        .context("cannot run /bin/sh")?;
    let wall = started.elapsed();
    ensure!(status.success(), "`{script}` failed: {status}");
    #[allow(clippy::cast_precision_loss)]
    let cpu = (children_ticks()? - before) as f64 / *CLK_TCK as f64;
    Ok((wall, cpu))
}

/// cutime + cstime of this process.
fn children_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    ensure!(fields.len() == 2, "malformed /proc/self/stat");
    Ok(fields[0] + fields[1])
}

/// The floors on the same data: what tar, zstd and sha256sum alone take.
pub fn floors(data: &DataSet) -> anyhow::Result<()> {
    let root = data.root.display();
    let archive = data.root.with_file_name("floor.tar.zst");
    let scratch = data.root.with_file_name("floor-extract");
    for (what, script) in [
        (
            "tar | zstd -3 -T1 > /dev/null",
            format!("tar -cf - -C {root} . | zstd -q -3 -T1 -c > /dev/null"),
        ),
        (
            "tar | sha256sum",
            format!("tar -cf - -C {root} . | sha256sum > /dev/null"),
        ),
        (
            "tar | zstd -3 -T1 > file (for the restore floor)",
            format!(
                "tar -cf - -C {root} . | zstd -q -3 -T1 -c > {}",
                archive.display()
            ),
        ),
        (
            "zstd -d file | tar -x (restore floor)",
            format!(
                "mkdir -p {s} && zstd -q -d -c {a} | tar -xf - -C {s}",
                s = scratch.display(),
                a = archive.display()
            ),
        ),
    ] {
        let (wall, cpu) = timed_shell(&script)?;
        println!(
            "floor: {what}: {:.2} s ({:.0} MB/s), cpu {:.2} s (both ends of the pipe)",
            wall.as_secs_f64(),
            mb_per_s(data.bytes, wall),
            cpu
        );
    }
    let size = std::fs::metadata(&archive)?.len();
    println!("floor: the zstd -3 archive is {:.1} MiB", mib(size / 1024));
    std::fs::remove_file(&archive)?;
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// Decimal megabytes per second.
#[allow(clippy::cast_precision_loss)]
pub fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
pub fn mb_per_cpu_s(bytes: u64, cpu_s: f64) -> f64 {
    bytes as f64 / 1e6 / cpu_s
}
