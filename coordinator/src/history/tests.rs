//! History tests: downsampling with an injected clock, and a restart on the same store.

use super::*;
use crate::history::query::{Agg, query_host, query_selector};

const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % QUARTER_MS; // a 15-minute boundary

fn sample(at_ms: i64, cpu: f32) -> Sample {
    let mut base = [0.0; BASE_SERIES.len()];
    base[0] = cpu;
    base[1] = 50.0;
    Sample {
        at_ms,
        base,
        disks: vec![("/".into(), cpu / 2.0)],
    }
}

#[test]
fn a_minute_keeps_min_max_and_average() {
    let mut open = Downsampler::default();
    for (i, cpu) in [10.0, 20.0, 60.0].into_iter().enumerate() {
        open.add("web-1".into(), sample(T0 + i as i64 * 1000, cpu));
    }
    open.add("web-1".into(), sample(T0 + MINUTE_MS, 99.0));
    assert!(
        open.close(T0 + 59_999).is_empty(),
        "the minute is still open"
    );
    let rows = open.close(T0 + MINUTE_MS);
    assert_eq!(rows.len(), 1, "only the closed minute");
    let (minute, host, samples, summary) = &rows[0];
    assert_eq!((*minute, host.as_str(), samples.len()), (T0, "web-1", 3));
    assert_eq!(summary.count, 3);
    assert_eq!(
        summary.base[0],
        Stat {
            min: 10.0,
            max: 60.0,
            avg: 30.0
        }
    );
    assert_eq!(
        summary.disks[0].1,
        Stat {
            min: 5.0,
            max: 30.0,
            avg: 15.0
        }
    );
}

#[test]
fn merging_weights_averages_by_samples() {
    let a = summarize(&[sample(T0, 10.0)]).unwrap();
    let b = summarize(&[sample(T0, 40.0), sample(T0, 40.0), sample(T0, 40.0)]).unwrap();
    let merged = merge([&a, &b]).unwrap();
    assert_eq!(merged.count, 4);
    assert_eq!(
        merged.base[0],
        Stat {
            min: 10.0,
            max: 40.0,
            avg: 32.5
        }
    );
}

#[test]
fn codecs_round_trip() {
    let samples = vec![sample(T0 + 5, 1.5), sample(T0 + 59_000, 99.25)];
    let raw = crate::store::history::encode_chunk(T0, &samples);
    assert_eq!(
        crate::store::history::decode_chunk(T0, &raw).unwrap(),
        samples
    );
    let summary = summarize(&samples).unwrap();
    let raw = crate::store::history::encode_summary(&summary);
    assert_eq!(
        crate::store::history::decode_summary(&raw).unwrap(),
        summary
    );
    assert!(crate::store::history::decode_summary(&raw[..raw.len() - 1]).is_none());
}

/// Two hours of one sample every 10 s, fed through `tick` with the clock passed in; the
/// store is closed and reopened; 1-minute and 15-minute tiers and the raw hour answer.
#[test]
fn history_survives_a_restart_and_downsamples() {
    let dir = tempfile::tempdir().unwrap();
    let config = HistoryConfig::default();
    let end = T0 + 2 * 3_600_000;
    {
        let store = Store::open(dir.path()).unwrap();
        let (mut history, recorder) = History::new(store.clone(), config).unwrap();
        let mut now = T0;
        while now < end {
            // cpu climbs 0..=99 over each 15 minutes; `web-2` is twice as busy.
            let cpu = ((now - T0) % QUARTER_MS / 9_000) as f32;
            recorder
                .queue
                .as_ref()
                .unwrap()
                .try_send(("web-1".into(), sample(now, cpu)))
                .unwrap();
            recorder
                .queue
                .as_ref()
                .unwrap()
                .try_send(("web-2".into(), sample(now, cpu * 2.0)))
                .unwrap();
            now += 10_000;
            history.tick(now, &|_| true).unwrap();
        }
        history.finish().unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let cpu = [SeriesId::parse("cpu").unwrap()];
    // The last hour comes from raw samples: 360 of them, at 10 s steps.
    let raw = query_host(
        &store,
        &config,
        "web-1",
        &cpu,
        (end - 3_600_000 + MINUTE_MS, end, 10_000),
        end,
    )
    .unwrap();
    assert_eq!(raw[0].len(), 354, "raw points after the tier boundary");
    assert!(raw[0].iter().all(|p| p.count == 1));
    // Each 15-minute step has min 0, max 98.9 (cpu climbs 0..99), avg ~49.4.
    let quarters = query_host(&store, &config, "web-1", &cpu, (T0, end, QUARTER_MS), end).unwrap();
    assert_eq!(quarters[0].len(), 8);
    for point in &quarters[0] {
        assert_eq!(point.count, 90, "{point:?}");
        assert_eq!(point.stat.min, 0.0);
        assert!((point.stat.max - 98.0).abs() < 1.5, "{point:?}");
        assert!((point.stat.avg - 49.0).abs() < 1.5, "{point:?}");
    }
    // The 15-minute tier itself was written (windows closed before `end`).
    let stored = store
        .history_host(Tier::Quarter, "web-1", T0, end, QUARTER_MS)
        .unwrap();
    assert_eq!(stored.len(), 8);
    assert_eq!(stored[0].1.count, 90);
    // Across hosts: p95 of the hosts' averages is web-2's, min the lowest sample.
    let hosts: std::collections::HashSet<String> = ["web-1".into(), "web-2".into()].into();
    let (fleet, covered) = query_selector(
        &store,
        &config,
        &hosts,
        &cpu[0],
        Agg::Quantile(0.95),
        (end - 3_600_000, end, QUARTER_MS),
        end,
    )
    .unwrap();
    assert_eq!(covered, 2);
    assert_eq!(fleet.len(), 4);
    assert!((fleet[0].stat.avg - 98.0).abs() < 3.0, "{:?}", fleet[0]);
    assert_eq!(fleet[0].count, 2);
}

#[test]
fn old_tiers_and_deleted_hosts_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = HistoryConfig::default();
    let (mut history, recorder) = History::new(store.clone(), config).unwrap();
    for host in ["web-1", "gone"] {
        recorder
            .queue
            .as_ref()
            .unwrap()
            .try_send((host.into(), sample(T0, 1.0)))
            .unwrap();
    }
    history.tick(T0 + MINUTE_MS, &|_| true).unwrap();
    let cpu = [SeriesId::parse("cpu").unwrap()];
    let seen = |host: &str, now: i64| {
        store.history_raw(host, T0, T0 + MINUTE_MS).unwrap().len()
            + store
                .history_host(Tier::Minute, host, T0, now, MINUTE_MS)
                .unwrap()
                .len()
    };
    assert_eq!(seen("gone", T0 + MINUTE_MS), 2);
    // An hour later, a host no longer in the fleet is gone entirely.
    history
        .tick(T0 + 3_600_000 + MINUTE_MS, &|host| host != "gone")
        .unwrap();
    assert_eq!(seen("gone", T0 + 3_600_000), 0);
    // Past keep_raw the raw chunk goes; the 1-minute row stays until keep_1m.
    assert_eq!(
        store
            .history_raw("web-1", T0, T0 + MINUTE_MS)
            .unwrap()
            .len(),
        0
    );
    let now = T0 + 3_600_000 + MINUTE_MS;
    let kept = query_host(&store, &config, "web-1", &cpu, (T0, now, MINUTE_MS), now).unwrap();
    assert_eq!(kept[0].len(), 1);
    history.tick(T0 + 49 * 3_600_000, &|_| true).unwrap();
    assert!(
        store
            .history_host(Tier::Minute, "web-1", T0, T0 + MINUTE_MS, MINUTE_MS)
            .unwrap()
            .is_empty()
    );
    // The 15-minute summary outlives it.
    assert_eq!(
        store
            .history_host(Tier::Quarter, "web-1", T0, T0 + QUARTER_MS, QUARTER_MS)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn series_names_are_checked() {
    assert_eq!(SeriesId::parse("load1"), Ok(SeriesId::Base(3)));
    assert_eq!(
        SeriesId::parse("disk:/var"),
        Ok(SeriesId::Disk("/var".into()))
    );
    assert!(SeriesId::parse("disk:var").is_err());
    assert!(
        SeriesId::parse("cpuu")
            .unwrap_err()
            .contains("unknown series")
    );
}

/// The streaming selector query against a plain reference (merge every host's rows of a
/// step, then aggregate): across the 15-minute/1-minute tier boundary, steps that do not
/// divide the tiers, a disk series some hosts lack, hosts outside the selection, gaps.
#[test]
fn selector_query_matches_a_reference_at_every_step() {
    use std::collections::HashSet;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = HistoryConfig::default();
    let now = T0 + 50 * 3_600_000;
    let (minute_from, _) = query::boundaries(&config, now);
    let value = |h: i64, t: i64| ((h * 7919 + t / MINUTE_MS * 104_729) % 1000) as f32 / 10.0;
    let row = |h: i64, at: i64, count: usize| {
        let samples: Vec<Sample> = (0..count)
            .map(|i| {
                let mut s = sample(at + i as i64 * 1000, value(h, at) + i as f32);
                if h % 2 == 0 {
                    s.disks.push(("/data".into(), value(h + 1, at)));
                }
                s
            })
            .collect();
        summarize(&samples).unwrap()
    };
    let mut all: Vec<(i64, String, Summary)> = Vec::new();
    for h in 0..12i64 {
        let host = format!("h-{h:02}");
        let mut at = minute_from - 5 * QUARTER_MS;
        while at < minute_from {
            all.push((at, host.clone(), row(h, at, 3)));
            at += QUARTER_MS;
        }
        while at < minute_from + 70 * MINUTE_MS {
            // Host 3 misses every fifth minute.
            if h != 3 || (at / MINUTE_MS) % 5 != 0 {
                all.push((at, host.clone(), row(h, at, 1 + (h as usize % 3))));
            }
            at += MINUTE_MS;
        }
    }
    let (quarters, minutes): (Vec<_>, Vec<_>) = all.iter().partition(|r| r.0 < minute_from);
    let quarters: Vec<_> = quarters.into_iter().cloned().collect();
    let minutes: Vec<_> = minutes
        .into_iter()
        .map(|(at, h, s)| (*at, h.clone(), Vec::new(), s.clone()))
        .collect();
    store.put_history_quarters(&quarters).unwrap();
    store.put_history_minutes(&minutes).unwrap();
    // Hosts 0..10 are selected; 10 and 11 are not.
    let hosts: HashSet<String> = (0..10).map(|h| format!("h-{h:02}")).collect();
    let from = minute_from - 4 * QUARTER_MS + 2 * MINUTE_MS;
    let to = minute_from + 65 * MINUTE_MS + 1;
    check_selector(&store, &config, now, &all, &hosts, (from, to));
}

/// The last hour comes from the per-minute fleet rows; where one is missing (a store
/// written before they existed, here pruned early) from the per-host rows.
#[test]
fn selector_query_reads_fleet_rows_and_falls_back_without_them() {
    use std::collections::HashSet;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = HistoryConfig::default();
    let now = T0 + 3 * 3_600_000 + 30_000;
    let mut all: Vec<(i64, String, Summary)> = Vec::new();
    for h in 0..12i64 {
        for m in 0..70 {
            let at = T0 + 3 * 3_600_000 - 69 * MINUTE_MS + m * MINUTE_MS - MINUTE_MS;
            if h == 3 && m % 5 == 0 {
                continue;
            }
            let mut s = sample(at, ((h * 31 + m * 17) % 100) as f32);
            if h % 2 == 0 {
                s.disks.push(("/data".into(), (h + m) as f32));
            }
            all.push((at, format!("h-{h:02}"), summarize(&[s]).unwrap()));
        }
    }
    let rows: Vec<_> = all
        .iter()
        .map(|(at, h, s)| (*at, h.clone(), Vec::new(), s.clone()))
        .collect();
    store.put_history_minutes(&rows).unwrap();
    let hosts: HashSet<String> = (0..10).map(|h| format!("h-{h:02}")).collect();
    let range = (now - 3_600_000, now + 1);
    check_selector(&store, &config, now, &all, &hosts, range);
    // Fleet rows older than 30 minutes gone: those minutes come from the per-host rows.
    store.prune_history(now - 1_800_000, 0, 0).unwrap();
    assert!(
        store
            .history_fleet_minute(now - 2_400_000 - 30_000)
            .unwrap()
            .is_none()
    );
    check_selector(&store, &config, now, &all, &hosts, range);
}

/// `query_selector` against merging every selected host's rows of each step, then `agg`.
fn check_selector(
    store: &Store,
    config: &HistoryConfig,
    now: i64,
    all: &[(i64, String, Summary)],
    hosts: &std::collections::HashSet<String>,
    (from, to): (i64, i64),
) {
    use std::collections::BTreeMap;
    for series in ["cpu", "disk:/data", "disk:/"] {
        let id = SeriesId::parse(series).unwrap();
        for step in [MINUTE_MS, 7 * MINUTE_MS, QUARTER_MS, 3_600_000] {
            for agg in [Agg::Avg, Agg::Min, Agg::Max, Agg::Quantile(0.95)] {
                let mut want: BTreeMap<i64, BTreeMap<&str, Vec<&Summary>>> = BTreeMap::new();
                for (at, host, s) in all {
                    if *at >= from && *at < to && hosts.contains(host) {
                        let bucket = at.div_euclid(step) * step;
                        want.entry(bucket)
                            .or_default()
                            .entry(host)
                            .or_default()
                            .push(s);
                    }
                }
                let want: Vec<(i64, usize, f32, f32, f32)> = want
                    .into_iter()
                    .filter_map(|(at, per_host)| {
                        let stats: Vec<(Stat, u32)> = per_host
                            .values()
                            .filter_map(|parts| {
                                let m = merge(parts.iter().copied())?;
                                Some((m.stat(&id)?, m.count))
                            })
                            .collect();
                        let mut avgs: Vec<f64> =
                            stats.iter().map(|(s, _)| f64::from(s.avg)).collect();
                        if avgs.is_empty() {
                            return None;
                        }
                        let min = stats
                            .iter()
                            .map(|(s, _)| s.min)
                            .fold(f32::INFINITY, f32::min);
                        let max = stats.iter().map(|(s, _)| s.max).fold(f32::MIN, f32::max);
                        Some((at, avgs.len(), min, max, agg.apply(&mut avgs) as f32))
                    })
                    .collect();
                let (got, covered) =
                    query_selector(store, config, hosts, &id, agg, (from, to, step), now).unwrap();
                let what = format!("{series} step {step} {agg:?}");
                assert_eq!(
                    covered,
                    if series == "disk:/data" { 5 } else { 10 },
                    "{what}"
                );
                assert_eq!(got.len(), want.len(), "{what}");
                for (p, (at, n, min, max, avg)) in got.iter().zip(&want) {
                    assert_eq!((p.at, p.count as usize), (*at, *n), "{what}");
                    assert_eq!((p.stat.min, p.stat.max), (*min, *max), "{what} at {at}");
                    assert!(
                        (p.stat.avg - avg).abs() < 1e-3,
                        "{what} at {at}: {p:?} vs {avg}"
                    );
                }
            }
        }
    }
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, as `du` counts them).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// 100 hosts, a sample every 10 s, 12 simulated hours with short retention (raw 10 min,
/// 1-minute rows 30 min, 15-minute rows 1 h): once retention has passed, the data dir
/// (sled and the raw minute files) stops growing. A store that never pruned would add
/// about 1.6 MiB of raw files and sled rows per simulated hour.
#[test]
fn store_size_levels_off_once_retention_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let config = HistoryConfig {
        enabled: true,
        keep_raw: Duration::from_secs(600),
        keep_1m: Duration::from_secs(1800),
        keep_15m: Duration::from_secs(3600),
    };
    let (mut history, recorder) = History::new(store.clone(), config).unwrap();
    let hosts: Vec<String> = (0..100).map(|h| format!("host-{h:03}")).collect();
    let mut sizes = Vec::new();
    let mut now = T0;
    for tick in 1..=12 * 360 {
        for (h, host) in hosts.iter().enumerate() {
            let mut s = sample(now + h as i64, ((tick * 7 + h) % 100) as f32);
            s.disks.push(("/var".into(), (h % 100) as f32));
            recorder
                .queue
                .as_ref()
                .unwrap()
                .try_send((host.clone(), s))
                .unwrap();
        }
        now += 10_000;
        history.tick(now, &|_| true).unwrap();
        if tick % 360 == 0 {
            store.flush().unwrap();
            sizes.push(dir_bytes(dir.path()));
        }
    }
    let mib = |b: u64| b as f64 / 1024.0 / 1024.0;
    let shown: Vec<String> = sizes.iter().map(|b| format!("{:.2}", mib(*b))).collect();
    // Hours 1 and 2 fill the tiers; from hour 3 on, each hour only replaces what expired.
    let settled = sizes[2];
    for (hour, size) in sizes.iter().enumerate().skip(3) {
        assert!(
            // sled's files move in segments: 50 % of slack; a store that never pruned
            // is 3.7× its hour-3 size by hour 12.
            *size <= settled + settled / 2,
            "hour {}: {:.2} MiB after {:.2} MiB at hour 3 (MiB per hour: {})",
            hour + 1,
            mib(*size),
            mib(settled),
            shown.join(", ")
        );
    }
    let raw_files = std::fs::read_dir(dir.path().join("history-raw"))
        .unwrap()
        .count();
    assert!(
        raw_files <= 12,
        "{raw_files} raw minute files for 10 minutes"
    );
}

/// The raw tier is in files written as each minute closes: a coordinator that dies
/// without `finish` (no shutdown) comes back with every closed minute's samples and
/// loses only the minute that was open; a write cut short (a `.tmp` left over) is dropped.
#[test]
fn raw_tier_survives_a_crash_minus_the_open_minute() {
    let dir = tempfile::tempdir().unwrap();
    let config = HistoryConfig::default();
    let crash = T0 + 10 * MINUTE_MS + 30_000;
    {
        let store = Store::open(dir.path()).unwrap();
        let (mut history, recorder) = History::new(store.clone(), config).unwrap();
        let mut now = T0;
        while now < crash {
            recorder
                .queue
                .as_ref()
                .unwrap()
                .try_send(("web-1".into(), sample(now, (now / 1000 % 100) as f32)))
                .unwrap();
            now += 10_000;
            history.tick(now, &|_| true).unwrap();
        }
        // Killed here: no `finish`, no flush; a minute file was being written.
        std::fs::write(
            dir.path()
                .join("history-raw")
                .join(format!("{}-0.tmp", crash)),
            b"CVH1 cut sh",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let raw = store.history_raw("web-1", T0, crash + MINUTE_MS).unwrap();
    assert_eq!(raw.len(), 60, "ten closed minutes of a sample every 10 s");
    assert_eq!(raw.first().unwrap().at_ms, T0);
    assert_eq!(raw.last().unwrap().at_ms, T0 + 10 * MINUTE_MS - 10_000);
    assert!(
        raw.iter()
            .all(|s| s.base[0] == (s.at_ms / 1000 % 100) as f32)
    );
    let leftovers = std::fs::read_dir(dir.path().join("history-raw"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0, "the cut-short write is removed on open");
    // The fleet row of a closed minute came back too.
    assert!(store.history_fleet_minute(T0).unwrap().is_some());
}

/// App signals are kept as named series beside the disks, capped apart, and survive the
/// stored encodings (`convoy metrics HOST web.error_rate`).
#[test]
fn app_signals_are_named_series_capped_per_host() {
    let metrics = convoy_proto::v1::MetricsSample {
        disks: (0..6)
            .map(|i| convoy_proto::v1::DiskUsage {
                mount: format!("/d{i}"),
                used_bytes: 1,
                total_bytes: 4,
            })
            .collect(),
        signals: (0..12)
            .map(|i| (format!("web.s{i:02}"), f64::from(i)))
            .collect(),
        ..Default::default()
    };
    let sample = Sample::from_metrics(T0, &metrics);
    let disks = sample
        .disks
        .iter()
        .filter(|(n, _)| n.starts_with('/'))
        .count();
    assert_eq!(
        (disks, sample.disks.len() - disks),
        (MAX_DISKS, MAX_SIGNALS)
    );
    let series = SeriesId::parse("web.s03").unwrap();
    assert_eq!(series, SeriesId::Signal("web.s03".into()));
    assert_eq!(sample.value(&series), Some(3.0));
    assert_eq!(sample.value(&SeriesId::parse("web.s09").unwrap()), None);
    assert!(
        SeriesId::parse("error_rate").is_err(),
        "a bare name is not a series"
    );
    // Merged summaries keep the caps apart too, and a stored summary reads back.
    let mut later = sample.clone();
    later.at_ms += 1000;
    later.disks.retain(|(n, _)| !n.starts_with('/'));
    later.disks[0].1 = 5.0;
    let summary = summarize(&[sample, later]).unwrap();
    assert_eq!(summary.disks.len(), MAX_DISKS + MAX_SIGNALS);
    let stat = summary.stat(&SeriesId::Signal("web.s00".into())).unwrap();
    assert_eq!((stat.min, stat.max, stat.avg), (0.0, 5.0, 2.5));
    let raw = crate::store::history::encode_summary(&summary);
    let (count, stored) =
        crate::store::history::summary_stat(&raw, &SeriesId::Signal("web.s00".into())).unwrap();
    assert_eq!((count, stored), (2, stat));
}
