//! The job scheduler's decisions, as a pure function of a job's limits, its commands and
//! the time: which hosts to release next (concurrency), which to skip (error budget or
//! cancellation), which are undeliverable, and whether the job is over. No I/O, no clock.

use convoy_proto::v1::{CommandState, JobState};

/// A job's rate limits, resolved to host counts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub concurrency: u32,
    pub max_errors: u32,
    pub delivery_timeout_ms: i64,
    pub cancel_requested: bool,
}

/// What the planner needs to know about one host's command.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub state: CommandState,
    /// Released to the host (sent, or waiting for it to come online).
    pub released_unix_ms: Option<i64>,
    pub online: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    ErrorBudget,
    JobCancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Release command `i` to its host now.
    Release(usize),
    /// Command `i`'s host stayed offline past the delivery timeout.
    Undeliverable(usize),
    /// Command `i` will never start.
    Skip(usize, Skip),
    /// Every command is terminal; the job ends in this state.
    Finish(JobState),
}

/// A stored or received command state, read by the coordinator's one rule for enum values
/// it does not know (ARCHITECTURE.md, "unknown enum values"): a value this version does not
/// know (a newer coordinator's, or a corrupt record) and `Unspecified` read as `Running`,
/// the state that takes no step by itself: never sent as if new (`Pending`), never
/// cancelled as never-sent, never counted as done or as an error; the agent's own report
/// settles it, and the stored value is not rewritten by reading it.
pub fn command_state(stored: i32) -> CommandState {
    match CommandState::try_from(stored) {
        Ok(CommandState::Unspecified) | Err(_) => CommandState::Running,
        Ok(state) => state,
    }
}

/// The state a finished command is reported with: its stored state when that is a known
/// final one, else `Failed` (a result this version cannot read is never a success).
pub fn result_state(stored: i32) -> CommandState {
    match CommandState::try_from(stored) {
        Ok(state) if is_terminal(state) => state,
        _ => CommandState::Failed,
    }
}

pub fn is_terminal(state: CommandState) -> bool {
    matches!(
        state,
        CommandState::Succeeded
            | CommandState::Failed
            | CommandState::TimedOut
            | CommandState::Cancelled
            | CommandState::Interrupted
            | CommandState::Undeliverable
            | CommandState::Rejected
    )
}

/// States that count against `--max-errors`. Undeliverable hosts are reported apart.
pub fn is_error(state: CommandState) -> bool {
    matches!(
        state,
        CommandState::Failed
            | CommandState::TimedOut
            | CommandState::Rejected
            | CommandState::Interrupted
    )
}

pub fn plan(limits: &Limits, commands: &[View], now_unix_ms: i64) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let mut states: Vec<CommandState> = commands.iter().map(|c| c.state).collect();

    // Released but never received, and the host is away: undeliverable after the timeout,
    // or, in a cancelled job, cancelled (it never reached the host).
    for (i, command) in commands.iter().enumerate() {
        if let Some(released) = command.released_unix_ms {
            if command.state == CommandState::Pending
                && !command.online
                && now_unix_ms.saturating_sub(released) >= limits.delivery_timeout_ms
            {
                if limits.cancel_requested {
                    decisions.push(Decision::Skip(i, Skip::JobCancelled));
                    states[i] = CommandState::Cancelled;
                } else {
                    decisions.push(Decision::Undeliverable(i));
                    states[i] = CommandState::Undeliverable;
                }
            }
        }
    }

    let queued: Vec<usize> = (0..commands.len())
        .filter(|&i| commands[i].released_unix_ms.is_none() && states[i] == CommandState::Pending)
        .collect();
    let errors = states.iter().filter(|s| is_error(**s)).count();
    let skip = if limits.cancel_requested {
        Some(Skip::JobCancelled)
    } else if errors > limits.max_errors as usize {
        Some(Skip::ErrorBudget)
    } else {
        None
    };
    if let Some(reason) = skip {
        for &i in &queued {
            decisions.push(Decision::Skip(i, reason));
            states[i] = CommandState::Cancelled;
        }
    } else {
        let in_flight = (0..commands.len())
            .filter(|&i| commands[i].released_unix_ms.is_some() && !is_terminal(states[i]))
            .count();
        let mut slots = (limits.concurrency as usize).saturating_sub(in_flight);
        // Online hosts first; an offline host is released only when no online one waits.
        let (online, offline): (Vec<usize>, Vec<usize>) =
            queued.iter().partition(|&&i| commands[i].online);
        for i in online.into_iter().chain(offline) {
            if slots == 0 {
                break;
            }
            decisions.push(Decision::Release(i));
            slots -= 1;
        }
    }

    if !commands.is_empty() && states.iter().all(|s| is_terminal(*s)) {
        let state = if limits.cancel_requested {
            JobState::Cancelled
        } else if states.iter().all(|s| *s == CommandState::Succeeded) {
            JobState::Succeeded
        } else if states.iter().all(|s| *s == CommandState::Undeliverable) {
            JobState::Undeliverable
        } else {
            JobState::Failed
        };
        decisions.push(Decision::Finish(state));
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandState::*;

    #[test]
    fn unknown_stored_states_read_as_running_and_unknown_results_as_failed() {
        for unknown in [0, 11, 99, -1] {
            assert_eq!(command_state(unknown), Running, "{unknown}");
            assert_eq!(result_state(unknown), Failed, "{unknown}");
        }
        assert_eq!(command_state(Pending as i32), Pending);
        assert_eq!(command_state(Succeeded as i32), Succeeded);
        assert_eq!(result_state(Running as i32), Failed);
        assert_eq!(result_state(TimedOut as i32), TimedOut);
    }

    #[test]
    fn an_unknown_stored_state_is_neither_released_nor_finished() {
        // One host in an unknown state, one queued: only the queued one is released, and
        // the job does not end while the unknown one is in flight.
        let unknown = View {
            state: command_state(42),
            released_unix_ms: Some(0),
            online: true,
        };
        let decisions = plan(&limits(2, 0), &[unknown, queued(true)], 10);
        assert_eq!(decisions, vec![Decision::Release(1)]);
    }

    fn limits(concurrency: u32, max_errors: u32) -> Limits {
        Limits {
            concurrency,
            max_errors,
            delivery_timeout_ms: 1_000,
            cancel_requested: false,
        }
    }

    fn queued(online: bool) -> View {
        View {
            state: Pending,
            released_unix_ms: None,
            online,
        }
    }

    fn released(state: CommandState, at: i64, online: bool) -> View {
        View {
            state,
            released_unix_ms: Some(at),
            online,
        }
    }

    /// One table-driven check: limits, commands, time -> decisions.
    fn check(limits: Limits, commands: &[View], now: i64, expected: &[Decision]) {
        assert_eq!(plan(&limits, commands, now), expected, "{commands:?}");
    }

    #[test]
    fn releases_up_to_the_concurrency_online_hosts_first() {
        use Decision::*;
        check(
            limits(2, 0),
            &[queued(false), queued(true), queued(true)],
            0,
            &[Release(1), Release(2)],
        );
        check(
            limits(2, 0),
            &[released(Running, 0, true), queued(true), queued(true)],
            0,
            &[Release(1)],
        );
        check(
            limits(2, 0),
            &[
                released(Running, 0, true),
                released(Delivered, 0, true),
                queued(true),
            ],
            0,
            &[],
        );
        check(
            limits(2, 0),
            &[
                released(Succeeded, 0, true),
                released(Running, 0, true),
                queued(false),
            ],
            0,
            &[Release(2)],
        );
    }

    #[test]
    fn stops_starting_hosts_past_the_error_budget() {
        use Decision::*;
        // max_errors 0: the first failure stops new starts; running hosts finish.
        check(
            limits(1, 0),
            &[released(Failed, 0, true), queued(true), queued(true)],
            0,
            &[
                Skip(1, self::Skip::ErrorBudget),
                Skip(2, self::Skip::ErrorBudget),
                Finish(JobState::Failed),
            ],
        );
        check(
            limits(1, 1),
            &[released(Failed, 0, true), queued(true)],
            0,
            &[Release(1)],
        );
        // Undeliverable hosts do not count as errors.
        check(
            limits(1, 0),
            &[released(CommandState::Undeliverable, 0, true), queued(true)],
            0,
            &[Release(1)],
        );
    }

    #[test]
    fn offline_hosts_become_undeliverable_after_the_timeout() {
        use Decision::*;
        check(limits(5, 0), &[released(Pending, 0, false)], 999, &[]);
        check(
            limits(5, 0),
            &[released(Pending, 0, false)],
            1_000,
            &[Undeliverable(0), Finish(JobState::Undeliverable)],
        );
        // Only some hosts undeliverable: a failed job.
        check(
            limits(5, 0),
            &[released(Pending, 0, false), released(Succeeded, 0, true)],
            1_000,
            &[Undeliverable(0), Finish(JobState::Failed)],
        );
        // Online, or already delivered: never undeliverable.
        check(
            limits(5, 0),
            &[released(Pending, 0, true), released(Delivered, 0, false)],
            5_000,
            &[],
        );
        // The freed slot goes to the next host at once.
        check(
            limits(1, 0),
            &[released(Pending, 0, false), queued(true)],
            2_000,
            &[Undeliverable(0), Release(1)],
        );
    }

    #[test]
    fn cancellation_skips_queued_hosts_and_ends_the_job() {
        use Decision::*;
        let cancelled = Limits {
            cancel_requested: true,
            ..limits(1, 0)
        };
        check(
            cancelled,
            &[released(Running, 0, true), queued(true)],
            0,
            &[Skip(1, self::Skip::JobCancelled)],
        );
        check(
            cancelled,
            &[released(Cancelled, 0, true), queued(true)],
            0,
            &[
                Skip(1, self::Skip::JobCancelled),
                Finish(JobState::Cancelled),
            ],
        );
        // Sent to a host that went away and never received: cancelled, not undeliverable.
        check(
            cancelled,
            &[released(Pending, 0, false), released(Cancelled, 0, true)],
            1_000,
            &[
                Skip(0, self::Skip::JobCancelled),
                Finish(JobState::Cancelled),
            ],
        );
    }

    #[test]
    fn finishes_with_the_right_state() {
        use Decision::*;
        check(
            limits(9, 0),
            &[released(Succeeded, 0, true), released(Succeeded, 0, false)],
            0,
            &[Finish(JobState::Succeeded)],
        );
        check(
            limits(9, 9),
            &[released(Succeeded, 0, true), released(Rejected, 0, true)],
            0,
            &[Finish(JobState::Failed)],
        );
        check(limits(9, 9), &[], 0, &[]);
    }

    /// Against a naive model: over random jobs, never more than `concurrency` in flight
    /// after applying the decisions, and nothing released past the error budget.
    #[test]
    fn never_exceeds_concurrency_or_the_budget() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let states = [
            Pending,
            Delivered,
            Running,
            Succeeded,
            Failed,
            TimedOut,
            Undeliverable,
        ];
        for _ in 0..2_000 {
            let concurrency = 1 + next(4) as u32;
            let max_errors = next(3) as u32;
            let n = 1 + next(8) as usize;
            let commands: Vec<View> = (0..n)
                .map(|_| {
                    if next(2) == 0 {
                        queued(next(2) == 0)
                    } else {
                        released(states[next(states.len() as u64) as usize], 0, next(2) == 0)
                    }
                })
                .collect();
            let decisions = plan(&limits(concurrency, max_errors), &commands, 10);
            let in_flight_before = commands
                .iter()
                .filter(|c| c.released_unix_ms.is_some() && !is_terminal(c.state))
                .count();
            let undeliverable = decisions
                .iter()
                .filter(|d| matches!(d, Decision::Undeliverable(_)))
                .count();
            let released_now = decisions
                .iter()
                .filter(|d| matches!(d, Decision::Release(_)))
                .count();
            let errors = commands.iter().filter(|c| is_error(c.state)).count();
            if errors > max_errors as usize {
                assert_eq!(released_now, 0, "{commands:?} {decisions:?}");
            }
            assert!(
                released_now == 0
                    || in_flight_before - undeliverable + released_now <= concurrency as usize,
                "{commands:?} {decisions:?}"
            );
        }
    }
}
