//! `tradai logs RUN_ID [--follow]`: what the strategy container printed, from every task that ran the run (a Spot
//! task and the on-demand one that replaced it, each introduced by a line). `--follow` keeps reading until the run
//! ended and its last line was read; Ctrl-C stops following, not the run. With `--json`, one JSON object a line.

use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::backtests::code_of;
use crate::{Context, Failure, exit};

/// How long a follower waits before asking again when nothing new came.
const POLL: Duration = Duration::from_secs(1);
/// Lines asked for per page.
const PAGE: usize = 1000;

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub run_id: String,
    /// Keep printing new lines until the run ends.
    #[arg(long, short)]
    pub follow: bool,
}

pub async fn logs(context: &Context, args: LogsArgs) -> Result<u8, Failure> {
    let path = format!("/backtest/{}/logs", crate::api::encode(&args.run_id));
    let mut token: Option<String> = None;
    let mut introduced: Option<u64> = None;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let mut query = vec![("limit", PAGE.to_string())];
        if let Some(token) = &token {
            query.push(("next_token", token.clone()));
        }
        let page = context.api.get(&path, &query).await?;
        let lines = page["lines"].as_array().cloned().unwrap_or_default();
        for line in &lines {
            let task = line["task"].as_u64().unwrap_or_default();
            if context.json {
                println!(
                    "{}",
                    json!({"task_arn": page["tasks"][task as usize]["task_arn"], "timestamp": line["timestamp"], "message": line["message"]})
                );
                continue;
            }
            if introduced != Some(task) {
                println!("{}", introduction(&page["tasks"][task as usize]));
                introduced = Some(task);
            }
            println!("{}", line["message"].as_str().unwrap_or_default());
        }
        token = page["next_token"].as_str().map(str::to_owned);
        let status = page["status"].as_str().unwrap_or_default();
        if page["complete"] == true || (lines.is_empty() && !args.follow) {
            if !context.json && introduced.is_none() {
                eprintln!("{}", nothing_printed(&page));
            }
            return Ok(if args.follow { code_of(status) } else { exit::OK });
        }
        if lines.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = &mut interrupted => {
                    eprintln!("stopped following; {} goes on", args.run_id);
                    return Ok(exit::INTERRUPTED);
                }
            }
        }
    }
}

/// The line before a task's output: which task, on what capacity.
fn introduction(task: &Value) -> String {
    let arn = task["task_arn"].as_str().unwrap_or_default();
    let id = arn.rsplit('/').next().unwrap_or(arn);
    match task["capacity_provider"].as_str() {
        Some(capacity) => format!("── task {id} ({capacity}) ──"),
        None => format!("── task {id} ──"),
    }
}

/// Why a run shows no output yet.
fn nothing_printed(page: &Value) -> String {
    let status = page["status"].as_str().unwrap_or_default();
    let tasks = page["tasks"].as_array().map(Vec::len).unwrap_or_default();
    if tasks == 0 {
        format!("no container has run yet ({status})")
    } else if page["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|task| task["log_stream"].is_null())
    {
        "the run's task definition sends its output nowhere (no awslogs configuration)".to_owned()
    } else {
        format!("the container has printed nothing yet ({status})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_introduced_by_its_id_and_capacity() {
        let task =
            json!({"task_arn": "arn:aws:ecs:us-east-1:1:task/tradai-dev/0f1e", "capacity_provider": "FARGATE_SPOT"});
        assert_eq!(introduction(&task), "── task 0f1e (FARGATE_SPOT) ──");
    }

    #[test]
    fn an_empty_log_says_why() {
        assert_eq!(
            nothing_printed(&json!({"status": "QUEUED", "tasks": []})),
            "no container has run yet (QUEUED)"
        );
        assert!(nothing_printed(&json!({"status": "FAILED", "tasks": [{"task_arn": "t"}]})).contains("nowhere"));
    }
}
