//! `tradai watch RUN_ID` (and `submit --watch`): the run's status and elapsed time, live, until it ends; then its
//! summary. On a terminal a spinner line is redrawn in place; otherwise each change is one line. Ctrl-C stops
//! watching, not the run.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::backtests::{code_of, describe, fetch, summary};
use crate::{Context, Failure, exit};

/// How often the status route is asked.
const POLL: Duration = Duration::from_millis(500);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// What each status means while a run is on its way.
fn meaning(status: &str) -> &'static str {
    match status {
        "PENDING" => "accepted, being handed to the workflow",
        "QUEUED" => "in the workflow: validating, checking data, preparing the config, starting the container",
        "RUNNING" => "the engine is running",
        _ => "",
    }
}

/// What the workflow does in `step` (a state of `statemachine/backtest.asl.json`).
fn doing(step: &str) -> &'static str {
    match step {
        "ValidateStrategy" => "checking the strategy version, its image and config",
        "CheckDataFreshness" => "checking the market data covers the range and is fresh",
        "PrepareConfig" => "preparing the engine's config",
        "RunBacktest" => "the engine is running on Fargate Spot",
        "RunBacktestOnFargate" => "the engine is running on on-demand Fargate",
        "ReadStoppedTask" | "WhyRunBacktestStopped" | "BacktestExited" => "reading how the engine's task stopped",
        "TransformResults" => "summarising the result, drawing the chart",
        "NotifyCompletion" => "notifying",
        "CleanupResources" | "CleanupAfterFailure" => "cleaning up",
        "MarkFailed" | "NotifyFailure" => "recording the failure",
        _ => "",
    }
}

/// The progress line's words: the workflow's state when the status route reports one, else the status's meaning.
fn progress(status: &str, step: Option<&str>) -> String {
    match step {
        Some(step) if !doing(step).is_empty() => format!("{step}: {}", doing(step)),
        Some(step) => step.to_owned(),
        None => meaning(status).to_owned(),
    }
}

/// Whether a run with `status` has ended: COMPLETED, FAILED or CANCELLED.
pub(crate) fn ended(status: &str) -> bool {
    matches!(status, "COMPLETED" | "FAILED" | "CANCELLED")
}

pub async fn watch(context: &Context, run_id: &str) -> Result<u8, Failure> {
    let started = Instant::now();
    let live = !context.json && std::io::stderr().is_terminal();
    let mut last_status = String::new();
    let mut last_words = String::new();
    let mut frame = 0usize;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let report: Value = loop {
        let report = fetch(context, run_id).await?;
        let status = report["status"].as_str().unwrap_or_default().to_owned();
        let words = progress(&status, report["step"].as_str());
        let elapsed = clock(started.elapsed());
        if live {
            eprint!(
                "\r\x1b[2K{} {status:<9} {elapsed}  {words}",
                SPINNER[frame % SPINNER.len()],
            );
            let _flushed = std::io::stderr().flush();
            frame += 1;
        } else if (&status, &words) != (&last_status, &last_words) && !context.json {
            eprintln!("{}", format!("{elapsed}  {status:<9} {words}").trim_end());
        }
        last_status = status.clone();
        last_words = words;
        if ended(&status) {
            if live {
                eprintln!("\r\x1b[2K{status} after {elapsed}");
            }
            break report;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut interrupted => {
                if live {
                    eprintln!();
                }
                eprintln!("stopped watching; {run_id} goes on (tradai watch {run_id})");
                return Ok(exit::INTERRUPTED);
            }
        }
    };
    let status = report["status"].as_str().unwrap_or_default();
    context.print(&report, || {
        if report["result"].is_null() {
            describe(&report)
        } else {
            summary(&report)
        }
    });
    Ok(code_of(status))
}

/// `mm:ss`, or `h:mm:ss` past an hour.
fn clock(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds >= 3600 {
        format!("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
    } else {
        format!("{:02}:{:02}", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_reads_as_a_clock() {
        assert_eq!(clock(Duration::from_secs(75)), "01:15");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn the_progress_line_says_what_the_workflow_does_in_its_state() {
        assert_eq!(
            progress("RUNNING", Some("RunBacktest")),
            "RunBacktest: the engine is running on Fargate Spot"
        );
        assert_eq!(progress("QUEUED", Some("SomeNewState")), "SomeNewState");
        assert_eq!(progress("PENDING", None), meaning("PENDING"));
        let states = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../statemachine/backtest.asl.json"
        ))
        .expect("the state machine");
        let states: Value = serde_json::from_str(&states).expect("JSON");
        for (name, state) in states["States"].as_object().expect("states") {
            if state["Type"] == "Task" {
                assert!(!doing(name).is_empty(), "say what {name} does");
            }
        }
    }

    #[test]
    fn only_the_three_final_statuses_end_a_watch() {
        assert!(["COMPLETED", "FAILED", "CANCELLED"].into_iter().all(ended));
        assert!(!["PENDING", "QUEUED", "RUNNING"].into_iter().any(ended));
    }
}
