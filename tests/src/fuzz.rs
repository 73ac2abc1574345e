//! Property-based fuzzing of every parser that takes outside input (see [`targets`]).
//!
//! Coverage-guided fuzzers need tools this toolchain does not ship (`cargo-fuzz` needs
//! nightly and `cargo install`, `afl.rs` its own compiler wrapper), so inputs come from a
//! seeded generator: the committed seed corpus (`tests/fuzz/corpus/<target>/`), mutated by
//! bit flips, interesting bytes, dictionary tokens (each target's grammar), splices,
//! truncation and duplication, plus structure-aware generators where the format is binary
//! (tar headers, protobuf). Each input runs under `catch_unwind`: any panic is a finding,
//! reported with the target, the seed and the input (hex), and is replayed by the same
//! seed. `tests/it/fuzz.rs` runs every target briefly in `cargo test`;
//! `CONVOY_FUZZ_INPUTS=N` (and `CONVOY_FUZZ_SEED`) make the long run.

pub mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Inputs are capped at this size.
pub const MAX_INPUT: usize = 64 * 1024;

/// One fuzz target: a parser fed arbitrary bytes, and its grammar's tokens.
pub struct Target {
    pub name: &'static str,
    pub dict: &'static [&'static str],
    pub run: fn(&[u8]),
    /// Structure-aware inputs (e.g. a tar with hostile names), mixed in with the mutants.
    pub generate: Option<fn(&mut StdRng) -> Vec<u8>>,
}

/// A panic: what crashed the target.
#[derive(Debug)]
pub struct Finding {
    pub target: &'static str,
    pub seed: u64,
    pub index: u64,
    pub input: Vec<u8>,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} panicked on input #{} of seed {}: {}\ninput (hex): {}",
            self.target,
            self.index,
            self.seed,
            self.message,
            hex::encode(&self.input)
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub inputs: u64,
    pub elapsed: Duration,
}

/// The committed seed corpus of `target` (every file in its directory).
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff\"'=[]{}.,:;/\\\n\r\t #%*<>()!~-+0123456789";

/// One input derived from the corpus.
pub fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>], dict: &[&str]) -> Vec<u8> {
    let mut data = if seeds.is_empty() || rng.random_bool(0.03) {
        (0..rng.random_range(0..64)).map(|_| rng.random()).collect()
    } else {
        seeds[rng.random_range(0..seeds.len())].clone()
    };
    for _ in 0..rng.random_range(1..=6) {
        let len = data.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..=len)
        };
        match rng.random_range(0..9u32) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
            }
            2 | 3 if !dict.is_empty() => {
                let token = dict[rng.random_range(0..dict.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            4 if len > 0 => {
                let end = rng.random_range(at.min(len - 1)..len);
                data.drain(at.min(end)..end);
            }
            5 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len.min(start + 256));
                let chunk: Vec<u8> = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            6 if !seeds.is_empty() => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = if other.is_empty() {
                    0
                } else {
                    rng.random_range(0..other.len())
                };
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            7 => data.truncate(at),
            _ => {
                let bytes: Vec<u8> = (0..rng.random_range(1..8)).map(|_| rng.random()).collect();
                data.splice(at..at, bytes);
            }
        }
    }
    data.truncate(MAX_INPUT);
    data
}

/// A stable per-target seed, so that targets do not share inputs.
pub fn target_seed(seed: u64, target: &str) -> u64 {
    target.bytes().fold(seed ^ 0x9e37_79b9_7f4a_7c15, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Runs `inputs` inputs through `target` (every corpus file first, as is); the first panic
/// ends the run.
pub fn run(target: &Target, seed: u64, inputs: u64) -> Result<Stats, Box<Finding>> {
    let started = Instant::now();
    let seeds = corpus(target.name);
    let seed = target_seed(seed, target.name);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut result = Ok(());
    for index in 0..inputs {
        let input = if (index as usize) < seeds.len() {
            seeds[index as usize].clone()
        } else {
            match target.generate {
                Some(generate) if rng.random_bool(0.3) => generate(&mut rng),
                _ => mutate(&mut rng, &seeds, target.dict),
            }
        };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (target.run)(&input))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a non-string panic".into());
            result = Err(Box::new(Finding {
                target: target.name,
                seed,
                index,
                input,
                message,
            }));
            break;
        }
    }
    result.map(|()| Stats {
        inputs,
        elapsed: started.elapsed(),
    })
}
