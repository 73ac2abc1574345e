//! The shared fleet vocabulary: `--host` everywhere, and each of the two spellings of the
//! job and rollout knobs (issue 19 points 9 and 15).

use clap::Parser as _;

use crate::cli::rollouts::RolloutCommand;
use crate::cli::{Cli, Command};

fn parse(args: &[&str]) -> Cli {
    let mut argv = vec!["convoy"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => panic!("{args:?}: {err}"),
    }
}

#[test]
fn job_flags_take_the_rollout_spellings_and_hosts() {
    for (batch, failures, timeout) in [
        ("--concurrency", "--max-errors", "--delivery-timeout"),
        ("--batch", "--max-failures", "--offline-timeout"),
    ] {
        let cli = parse(&[
            "exec",
            "uptime",
            batch,
            "2",
            failures,
            "10%",
            timeout,
            "5m",
            "--host",
            "web-1,web-2",
            "--host",
            "web-3",
        ]);
        let Command::Exec(args) = cli.command else {
            panic!("not exec")
        };
        assert_eq!(args.job.concurrency.as_deref(), Some("2"));
        assert_eq!(args.job.max_errors, "10%");
        assert_eq!(args.job.delivery_timeout.as_secs(), 300);
        assert_eq!(args.job.hosts, ["web-1", "web-2", "web-3"]);
        assert_eq!(
            args.job.target_selector().unwrap(),
            "id in (web-1,web-2,web-3)"
        );
    }
}

#[test]
fn rollout_start_takes_the_job_spellings_and_hosts() {
    for (batch, failures, timeout) in [
        ("--batch", "--max-failures", "--offline-timeout"),
        ("--concurrency", "--max-errors", "--delivery-timeout"),
    ] {
        let cli = parse(&[
            "rollout", "start", "web", "2.0", batch, "2", failures, "1", timeout, "1m", "--host",
            "web-1",
        ]);
        let Command::Rollout(RolloutCommand::Start(args)) = cli.command else {
            panic!("not rollout start")
        };
        assert_eq!(args.batch.as_deref(), Some("2"));
        assert_eq!(args.max_failures.as_deref(), Some("1"));
        assert_eq!(args.offline_timeout.as_secs(), 60);
        assert_eq!(args.hosts, ["web-1"]);
    }
}

#[test]
fn a_bad_host_id_is_a_usage_error() {
    let cli = parse(&["exec", "uptime", "--host", "Web 1"]);
    let Command::Exec(args) = cli.command else {
        panic!("not exec")
    };
    let err = args.job.target_selector().unwrap_err();
    assert!(err.is::<crate::cli::UsageError>(), "{err}");
}

/// Issue 19 point 17: every argument and subcommand of every command says what it is, and
/// no connection flag (all of which the environment can supply) is shown as required.
#[test]
fn every_argument_has_help_text() {
    use clap::CommandFactory as _;
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") || arg.is_hide_set() {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
            if arg.get_env().is_some() {
                assert!(
                    !arg.is_required_set(),
                    "{path} {id} is required but env-supplied"
                );
            }
        }
        for sub in command.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                missing.push(format!("{path} {} (command)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&Cli::command(), "convoy", &mut missing);
    assert!(missing.is_empty(), "no help text:\n{}", missing.join("\n"));
}
