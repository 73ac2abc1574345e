//! Every fuzz target: the parsers that take input from the network, a file or an operator.
//! Each `run` must return (an `Err` is fine) and never panic, whatever the bytes.

use std::collections::BTreeMap;
use std::path::Path;

use convoy_proto::v1;
use prost::Message as _;
use rand::Rng as _;
use rand::rngs::StdRng;

use super::Target;

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

fn selector(input: &[u8]) {
    use convoy_coordinator::selector::Selector;
    if let Ok(selector) = Selector::parse(&text(input)) {
        let labels = BTreeMap::from([("role".to_owned(), "web".to_owned())]);
        let _ = selector.matches(&labels);
    }
}

fn gate(input: &[u8]) {
    let _ = convoy_coordinator::rollout::gate::Gate::parse(&text(input));
}

/// An `[[alerts]]` rule's `expr` (and its selector), then the rule evaluated against a
/// fleet that has every kind of fact it can look at.
fn alert_rule(input: &[u8]) {
    use convoy_coordinator::alerts::{self, rule::Rule};
    use convoy_coordinator::config::monitor::AlertConfig;
    let text = text(input);
    let (expr, selector) = text.split_once('\n').unwrap_or((&text, ""));
    let config = AlertConfig {
        name: "fuzz".into(),
        expr: expr.to_owned(),
        for_: std::time::Duration::ZERO,
        severity: "warning".into(),
        selector: selector.to_owned(),
        summary: String::new(),
    };
    if let Ok(rule) = Rule::new(&config) {
        let facts = alert_facts();
        for now in [0, 1_764_000_000_000, i64::MAX] {
            let _ = alerts::matches(&rule, facts, now);
        }
    }
}

fn alert_facts() -> &'static convoy_coordinator::alerts::facts::Facts {
    use convoy_coordinator::alerts::facts::{Facts, HostFacts};
    use convoy_coordinator::history::Sample;
    static FACTS: std::sync::OnceLock<Facts> = std::sync::OnceLock::new();
    FACTS.get_or_init(|| {
        let host = |id: &str, online: bool, value: f32, cpus: u32| HostFacts {
            id: id.into(),
            labels: BTreeMap::from([("role".to_owned(), "web".to_owned())]),
            online,
            sample: Some(Sample {
                at_ms: 1_764_000_000_000,
                base: [value; convoy_coordinator::history::BASE_SERIES.len()],
                disks: vec![("/".into(), value), ("/var".into(), f32::NAN)],
            }),
            cpus,
            failing_apps: vec!["web".into()],
        };
        Facts {
            hosts: vec![
                host("a", true, 99.0, 2),
                host("b", false, f32::INFINITY, 0),
                HostFacts::default(),
            ],
            backups: vec![
                ("a".into(), "db".into(), 0),
                ("b".into(), "db".into(), i64::MIN),
            ],
            drills: vec![("a".into(), "db".into(), i64::MAX)],
            certs: vec![("ca".into(), i64::MIN)],
            failed_rollouts: vec![("web".into(), "r-1".into())],
        }
    })
}

/// An `--analysis` bound, then a judgement with it on samples that include the extremes.
fn analysis(input: &[u8]) {
    use convoy_coordinator::analysis::verdict::{Analysis, judge};
    if let Ok(analysis) = Analysis::parse(&text(input)) {
        let _ = Analysis::parse(&analysis.to_string());
        let odd = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e308,
            5e-324,
        ];
        let _ = judge(&analysis, &odd, &[1.0, 2.0, 3.0, 4.0, 5.0], 1, 0.05);
        let _ = judge(&analysis, &[1.0; 6], &odd, 3, 0.05);
    }
}

/// An enrollment's CSR (sent by a host that holds no certificate yet): parsed, its
/// signature, names and extensions checked.
fn enroll_csr(input: &[u8]) {
    use convoy_proto::identity::AgentId;
    if let Ok(id) = AgentId::new("web-1") {
        let _ = convoy_coordinator::pki::csr::check_agent_csr(input, &id);
    }
}

/// Real CSRs (the right name, another name, extra extensions), then damaged at random.
fn csr(rng: &mut StdRng) -> Vec<u8> {
    static CSRS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    let csrs = CSRS.get_or_init(|| {
        let make = |sans: Vec<rcgen::SanType>, ca: bool| {
            let key = rcgen::KeyPair::generate().ok()?;
            let mut params = rcgen::CertificateParams::default();
            params.subject_alt_names = sans;
            if ca {
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            }
            params
                .serialize_request(&key)
                .ok()
                .map(|csr| csr.der().to_vec())
        };
        let uri = |u: &str| rcgen::SanType::URI(u.try_into().expect("an ASCII URI"));
        [
            make(vec![uri("convoy://agent/web-1")], false),
            make(vec![], false),
            make(vec![uri("convoy://operator/root/admin")], false),
            make(vec![uri("convoy://agent/web-1")], true),
        ]
        .into_iter()
        .flatten()
        .collect()
    });
    let mut out = csrs[rng.random_range(0..csrs.len())].clone();
    match rng.random_range(0..4) {
        0 => {}
        1 => {
            let at = rng.random_range(0..out.len());
            out.truncate(at);
        }
        _ => {
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..out.len());
                out[at] ^= 1 << rng.random_range(0..8);
            }
        }
    }
    out
}

fn rate(input: &[u8]) {
    use convoy_coordinator::rate::Rate;
    let text = text(input);
    for allow_zero in [false, true] {
        if let Ok(rate) = Rate::parse(&text, "concurrency", allow_zero) {
            let _ = rate.resolve(u32::MAX);
            let _ = rate.resolve(0);
        }
    }
}

fn cron(input: &[u8]) {
    use convoy_coordinator::backups::schedule;
    let text = text(input);
    if schedule::check_cron(&text).is_ok() {
        let _ = schedule::next_after(&text, 1_764_000_000_000);
        let _ = schedule::next_after(&text, i64::MAX / 2);
    }
    let _ = schedule::drill_cron(&text);
}

fn coordinator_config(input: &[u8]) {
    let _ = convoy_coordinator::config::Config::parse(&text(input), Path::new("/nonexistent"));
}

fn agent_config(input: &[u8]) {
    let _ = convoy_agent::config::Config::parse(&text(input), Path::new("/nonexistent"));
}

fn release_manifest(input: &[u8]) {
    use convoy_agent::deploy::manifest::{HttpTarget, Manifest};
    let text = text(input);
    let _ = Manifest::parse(&text);
    let _ = HttpTarget::parse(&text);
}

fn identity(input: &[u8]) {
    use convoy_proto::identity::{AgentId, Identity, Role};
    let text = text(input);
    let _ = Identity::from_uri(&text);
    let _ = AgentId::new(text.clone());
    let _ = text.parse::<Role>();
    let _ = convoy_proto::identity::validate_name(&text);
    let _ = Identity::from_cert_der(input);
    let _ = Identity::from_cert_pem(input);
}

fn names(input: &[u8]) {
    use convoy_proto::labels;
    let text = text(input);
    let (key, value) = text.split_once('=').unwrap_or((&text, ""));
    let _ = labels::validate_label(key, value);
    let _ = labels::valid_action_name(&text);
    let (app, version) = text.split_once('@').unwrap_or((&text, ""));
    let _ = labels::validate_release(app, version);
    let _ = labels::valid_sha256(&text);
}

fn backup_manifest(input: &[u8]) {
    let _ = convoy_agent::backup::Manifest::from_json(input);
    let _ = convoy_agent::backup::read_embedded_manifest(input);
}

fn archive(input: &[u8]) {
    use convoy_agent::archive::{Compression, Limits, LinkPolicy, unpack};
    let Ok(dir) = tempfile::tempdir() else { return };
    let limits = Limits {
        max_total_bytes: 1 << 20,
        max_entries: 200,
        links: LinkPolicy::Contained,
    };
    let compression = Compression::sniff(input).unwrap_or(Compression::None);
    let _ = unpack(input, compression, &dir.path().join("out"), &limits);
    let limits = Limits {
        links: LinkPolicy::Verbatim,
        ..limits
    };
    let _ = unpack(input, Compression::None, &dir.path().join("out2"), &limits);
}

fn backup_archive(input: &[u8]) {
    use convoy_coordinator::backups::{UploadTrailer, check};
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("upload.tar.zst");
    // The coordinator checks what arrived as zstd; fuzz both raw bytes and compressed tars.
    let bytes = if input.first() == Some(&b'Z') {
        zstd::encode_all(&input[1..], 1).unwrap_or_default()
    } else {
        input.to_vec()
    };
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let trailer = UploadTrailer {
        archive_sha256: String::new(),
        archive_bytes: input.len() as u64,
        manifest_sha256: String::new(),
        files: 3,
        bytes: 4096,
        missing: Vec::new(),
        skipped: Vec::new(),
    };
    let _ = check::well_formed(&path, &trailer, 200);
}

/// A coordinator snapshot file (`convoy snapshot restore`/`drill` read what an operator
/// hands them): raw bytes, or (`Z` first) a zstd stream of the rest.
fn snapshot(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let bytes = if input.first() == Some(&b'Z') {
        zstd::encode_all(&input[1..], 1).unwrap_or_default()
    } else {
        input.to_vec()
    };
    let _ = convoy_coordinator::snapshot::restore::unpack(bytes.as_slice(), &dir.path().join("d"));
}

/// A snapshot's zstd stream around a tar with hostile entries.
fn snapshot_with_nasty_entries(rng: &mut StdRng) -> Vec<u8> {
    let mut out = b"Z".to_vec();
    out.extend(tar_with_nasty_entries(rng));
    out
}

/// What a host may send the coordinator, and what the coordinator checks first.
fn agent_message(input: &[u8]) {
    use convoy_coordinator::grpc::agent_link::checks;
    if let Ok(message) = v1::AgentMessage::decode(input) {
        let id = convoy_proto::identity::AgentId::new("web-1").expect("a valid literal id");
        match message.body {
            Some(v1::agent_message::Body::Hello(hello)) => {
                let _ = checks::check_hello(&id, &hello);
            }
            Some(v1::agent_message::Body::Heartbeat(mut beat)) => {
                let mut disks = beat.metrics.take().map(|m| m.disks).unwrap_or_default();
                let _ = checks::bound_heartbeat(&mut disks, &mut beat.apps);
            }
            _ => {}
        }
    }
    let _ = v1::BackupUpload::decode(input);
    let _ = v1::FetchBackupRequest::decode(input);
    let _ = v1::FetchArtifactRequest::decode(input);
    let _ = v1::DrillReport::decode(input);
}

/// What a coordinator may send an agent, and what the agent checks before acting.
fn coordinator_message(input: &[u8]) {
    if let Ok(message) = v1::CoordinatorMessage::decode(input) {
        if let Some(v1::coordinator_message::Body::Command(command)) = &message.body {
            if let Some(v1::command::Action::Deploy(deploy)) = &command.action {
                let _ = convoy_proto::labels::validate_release(&deploy.app, &deploy.version);
                let _ = convoy_proto::labels::valid_sha256(&deploy.sha256);
            }
        }
    }
    let _ = v1::ArtifactChunk::decode(input);
    let _ = v1::BackupChunk::decode(input);
}

/// Every operator request the coordinator accepts, decoded and size-checked.
fn operator_request(input: &[u8]) {
    use convoy_coordinator::grpc::limits::check;
    macro_rules! each {
        ($($t:ident),*) => {$(
            if let Ok(request) = v1::$t::decode(input) {
                let _ = check(&request);
            }
        )*};
    }
    each!(
        WhoAmIRequest,
        ListJobsRequest,
        ListSchedulesRequest,
        ListAgentsRequest,
        GetAgentRequest,
        StartJobRequest,
        GetJobRequest,
        GetCommandOutputRequest,
        CancelJobRequest,
        WatchJobRequest,
        ListAuditRequest,
        ListReleasesRequest,
        ReleaseStatusRequest,
        StartRolloutRequest,
        ListRolloutsRequest,
        GetRolloutRequest,
        ControlRolloutRequest,
        RunBackupRequest,
        ListBackupsRequest,
        VerifyBackupRequest,
        RestoreBackupRequest,
        DrillBackupsRequest,
        AddScheduleRequest,
        RemoveScheduleRequest,
        CordonAgentRequest,
        RemoveAgentRequest,
        QueryMetricsRequest,
        ListAlertsRequest,
        ListEventsRequest,
        TestNotifyRequest,
        NotifyLogRequest,
        CapacityReportRequest,
        ScalingStatusRequest,
        ListCertsRequest,
        ListTokensRequest,
        RevokeTokenRequest,
        CreateTokenRequest,
        RevokeRequest
    );
    // Enrollment is unauthenticated: its request must decode safely too.
    let _ = v1::EnrollRequest::decode(input);
    let _ = v1::PushReleaseChunk::decode(input);
}

const NASTY_NAMES: &[&str] = &[
    "a",
    "a/b",
    "../x",
    "/etc/passwd",
    "a/../../b",
    "./a",
    "a//b",
    "",
    ".",
    "..",
    "a\\..\\b",
    ".convoy-manifest.json",
    "\u{202e}txt",
    "a\0b",
    "dir/",
    "x/./y",
];

/// A tar with hostile names, link targets, types and sizes (the header checksums right,
/// so the parser gets past them), sometimes compressed.
fn tar_with_nasty_entries(rng: &mut StdRng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.random_range(0..6) {
        let mut header = [0u8; 512];
        let mut name = NASTY_NAMES[rng.random_range(0..NASTY_NAMES.len())].to_owned();
        if rng.random_bool(0.3) {
            name.push('/');
            name.push_str(NASTY_NAMES[rng.random_range(0..NASTY_NAMES.len())]);
        }
        let name = name.as_bytes();
        header[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        header[100..108].copy_from_slice(b"0000644\0");
        let size: u64 = if rng.random_bool(0.9) {
            rng.random_range(0..600)
        } else {
            rng.random()
        };
        let size_field = format!("{:011o}\0", size % 0o77777777777);
        header[124..136].copy_from_slice(size_field.as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = *b"0125 x"
            .get(rng.random_range(0..6))
            .expect("index within the literal");
        let link = NASTY_NAMES[rng.random_range(0..NASTY_NAMES.len())].as_bytes();
        header[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        let body = (size % 4096) as usize;
        out.extend((0..body.div_ceil(512) * 512).map(|_| rng.random::<u8>()));
    }
    if rng.random_bool(0.5) {
        out.extend_from_slice(&[0u8; 1024]);
    }
    match rng.random_range(0..4) {
        0 => zstd::encode_all(&out[..], 1).unwrap_or(out),
        _ => out,
    }
}

/// Random protobuf: fields with random numbers and wire types, nested now and then.
fn protobuf(rng: &mut StdRng) -> Vec<u8> {
    fn message(rng: &mut StdRng, depth: u32, out: &mut Vec<u8>) {
        for _ in 0..rng.random_range(0..8) {
            let field: u64 = rng.random_range(1..40);
            let wire = rng.random_range(0..6u64);
            prost::encoding::encode_varint((field << 3) | wire.min(5), out);
            match wire {
                0 => prost::encoding::encode_varint(rng.random(), out),
                1 => out.extend_from_slice(&rng.random::<u64>().to_le_bytes()),
                5 => out.extend_from_slice(&rng.random::<u32>().to_le_bytes()),
                _ => {
                    let mut inner = Vec::new();
                    if depth < 4 && rng.random_bool(0.5) {
                        message(rng, depth + 1, &mut inner);
                    } else {
                        inner.extend((0..rng.random_range(0..24)).map(|_| rng.random::<u8>()));
                    }
                    prost::encoding::encode_varint(inner.len() as u64, out);
                    out.extend_from_slice(&inner);
                }
            }
        }
    }
    let mut out = Vec::new();
    message(rng, 0, &mut out);
    out
}

const TOML: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'''",
    "\"\"\"",
    "\n",
    "true",
    "-1",
    "1e999",
    "0x10",
    "\"10s\"",
    "\"0s\"",
    "\"18446744073709551616s\"",
    "listen",
    "data_dir",
    "[tls]",
    "[agents]",
    "[jobs]",
    "[backups]",
    "[[backups.retention]]",
    "coordinator",
    "[labels]",
    "[actions.x]",
    "run",
    "timeout",
    "[backup.sets.x]",
    "paths",
    "[apps.x]",
    "[health]",
    "http://",
    "https://",
    "1979-05-27T07:32:00Z",
];

macro_rules! dict {
    ($($s:expr),* $(,)?) => { &[$($s),*] };
}

/// Every target, in the order the short run takes them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "selector",
        dict: dict![
            "=", "!=", ",", " in ", " notin ", "(", ")", "!", "role", "web", "a.b/c"
        ],
        run: selector,
        generate: None,
    },
    Target {
        name: "gate",
        dict: dict![
            "cpu", "mem", "disk", "<", ">", "<=", "*", "baseline", "%", ":", "/", "1.5", "90"
        ],
        run: gate,
        generate: None,
    },
    Target {
        name: "alert_rule",
        dict: dict![
            "cpu",
            "mem",
            "swap",
            "load1",
            "disk:/",
            "offline",
            "health=failing",
            "backup_age",
            "drill_age",
            "cert_expires",
            "rollout=failed",
            "<",
            ">",
            ">=",
            "<=",
            "=",
            "*cpus",
            "26h",
            "8d",
            "7d",
            "95",
            "\n",
            "role=web"
        ],
        run: alert_rule,
        generate: None,
    },
    Target {
        name: "analysis",
        dict: dict![
            "latency_p99",
            "error_rate",
            "<=",
            "<",
            ">=",
            ">",
            "*baseline",
            "baseline+",
            "baseline-",
            "baseline",
            "1.2",
            "0.01",
            "e308",
            "-",
            " "
        ],
        run: analysis,
        generate: None,
    },
    Target {
        name: "enroll_csr",
        dict: dict!["convoy://agent/web-1", "\u{30}\u{82}"],
        run: enroll_csr,
        generate: Some(csr),
    },
    Target {
        name: "rate",
        dict: dict!["%", "0", "100", "18446744073709551616", ".", "-"],
        run: rate,
        generate: None,
    },
    Target {
        name: "cron",
        dict: dict![
            "*", "/", ",", "-", "@daily", "@hourly", "MON", "JAN", "60", "0", " "
        ],
        run: cron,
        generate: None,
    },
    Target {
        name: "coordinator_config",
        dict: TOML,
        run: coordinator_config,
        generate: None,
    },
    Target {
        name: "agent_config",
        dict: TOML,
        run: agent_config,
        generate: None,
    },
    Target {
        name: "release_manifest",
        dict: TOML,
        run: release_manifest,
        generate: None,
    },
    Target {
        name: "san_uri",
        dict: dict![
            "convoy://",
            "agent/",
            "operator/",
            "server/",
            "/admin",
            "/viewer",
            "%2F",
            "..",
            "-----BEGIN CERTIFICATE-----"
        ],
        run: identity,
        generate: None,
    },
    Target {
        name: "names",
        dict: dict!["=", "@", "..", "/", "-", "_", "."],
        run: names,
        generate: None,
    },
    Target {
        name: "backup_manifest",
        dict: dict![
            "{",
            "}",
            "[",
            "]",
            "\"path\"",
            "\"size\"",
            "\"mode\"",
            "\"sha256\"",
            ":",
            ",",
            "null",
            "1e400",
            "-1"
        ],
        run: backup_manifest,
        generate: Some(tar_with_nasty_entries),
    },
    Target {
        name: "archive",
        dict: dict!["ustar\0", "../", "/", "\0"],
        run: archive,
        generate: Some(tar_with_nasty_entries),
    },
    Target {
        name: "backup_archive",
        dict: dict!["ustar\0", ".convoy-manifest.json", "Z"],
        run: backup_archive,
        generate: Some(tar_with_nasty_entries),
    },
    Target {
        name: "snapshot",
        dict: dict![
            "Z",
            "convoy-snapshot.json",
            "header.json",
            "store/meta/000000",
            "blobs/backups/h/x",
            "{\"format\":1}"
        ],
        run: snapshot,
        generate: Some(snapshot_with_nasty_entries),
    },
    Target {
        name: "agent_message",
        dict: dict![],
        run: agent_message,
        generate: Some(protobuf),
    },
    Target {
        name: "coordinator_message",
        dict: dict![],
        run: coordinator_message,
        generate: Some(protobuf),
    },
    Target {
        name: "operator_request",
        dict: dict![],
        run: operator_request,
        generate: Some(protobuf),
    },
];
