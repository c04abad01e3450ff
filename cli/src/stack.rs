//! `tradai up` and `tradai down`: the whole local stack — moto as AWS behind the router, a real MLflow, the
//! functions under `cargo lambda watch`, the state machine, the local ECS, the queue's consumer and the HTTP API —
//! in this process until Ctrl-C, or detached in the background. What runs is written to `STATE/stack.json`, which
//! the other commands read to find the API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use tradai_local::mlflow::Mlflow;
use tradai_local::{Deployment, DeploymentOptions};

use crate::{Failure, exit};

/// How long a detached stack may take to come up (MLflow's first start migrates its store).
const DETACHED_STARTUP: Duration = Duration::from_secs(420);

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Start in the background and return once the stack answers; `tradai down` stops it.
    #[arg(long)]
    pub detach: bool,
}

/// A running stack, as `stack.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub api_url: String,
    pub mlflow_url: String,
    /// The AWS endpoint (the router in front of moto).
    pub aws_endpoint: String,
    pub state_machine_arn: String,
    pub started_at: String,
}

fn record_path(state: &Path) -> PathBuf {
    state.join("stack.json")
}

fn alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
}

/// The stack recorded under `state`, if its process still runs.
pub fn running(state: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(record_path(state)).ok()?;
    let running: Running = serde_json::from_str(&text).ok()?;
    alive(running.pid).then_some(running)
}

fn failure(error: impl std::fmt::Display) -> Failure {
    Failure::new(exit::ERROR, error.to_string())
}

/// A local-stack error with its causes, in one line.
pub(crate) fn local_failure(error: &tradai_local::Error) -> Failure {
    Failure::new(exit::ERROR, tradai::report::chain(error))
}

pub async fn up(state: &Path, args: UpArgs) -> Result<u8, Failure> {
    if let Some(running) = running(state) {
        return Err(Failure::bad_input(format!(
            "the local stack is already up (pid {}): API {}, MLflow {}; `tradai down` stops it",
            running.pid, running.api_url, running.mlflow_url
        )));
    }
    std::fs::create_dir_all(state).map_err(|error| failure(format!("{}: {error}", state.display())))?;
    if args.detach {
        detach(state).await
    } else {
        serve(state).await
    }
}

/// Runs `tradai up` again in the background, in a session of its own, and waits until it records itself.
async fn detach(state: &Path) -> Result<u8, Failure> {
    let log_path = state.join("up.log");
    let log = std::fs::File::create(&log_path).map_err(failure)?;
    let program = std::env::current_exe().map_err(failure)?;
    let _stale = std::fs::remove_file(record_path(state));
    let mut command = std::process::Command::new(program);
    command
        .arg("--state")
        .arg(state)
        .arg("up")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(failure)?)
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(failure)?;
    let started = Instant::now();
    loop {
        if let Some(running) = running(state) {
            print_running(&running);
            println!("stop it with: tradai down");
            return Ok(exit::OK);
        }
        if let Ok(Some(ended)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(failure(format!(
                "the local stack did not start ({ended}); {}:\n{}",
                log_path.display(),
                tail.join("\n")
            )));
        }
        if started.elapsed() > DETACHED_STARTUP {
            let _stopped = child.kill();
            return Err(failure(format!(
                "the local stack did not come up within {DETACHED_STARTUP:?}; see {}",
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print_running(running: &Running) {
    println!(
        "{}",
        crate::table::pairs(&[
            ("API", running.api_url.clone()),
            ("MLflow UI", running.mlflow_url.clone()),
            ("AWS endpoint", running.aws_endpoint.clone()),
            ("pid", running.pid.to_string()),
        ])
    );
}

/// Starts the stack here and serves until Ctrl-C or SIGTERM.
async fn serve(state: &Path) -> Result<u8, Failure> {
    let started = Instant::now();
    let mlflow_state = state.join("mlflow");
    // moto keeps nothing across starts; neither does MLflow, so the registry matches the buckets.
    let _fresh = std::fs::remove_dir_all(&mlflow_state);
    let mut mlflow = Mlflow::start(&mlflow_state, &state.join("mlflow.log")).map_err(|error| local_failure(&error))?;
    eprintln!("starting MLflow at {} and the local deployment …", mlflow.url);
    let options = DeploymentOptions::new(mlflow.url.clone());
    let (deployment, healthy) = tokio::join!(Deployment::start(options), mlflow.wait_until_healthy());
    let deployment = deployment.map_err(|error| local_failure(&error))?;
    healthy.map_err(|error| local_failure(&error))?;
    let running = Running {
        pid: std::process::id(),
        api_url: deployment.api_url.clone(),
        mlflow_url: mlflow.url.clone(),
        aws_endpoint: deployment.endpoint.clone(),
        state_machine_arn: deployment.state_machine_arn.clone(),
        started_at: chrono::Utc::now().to_rfc3339(),
    };
    let record = serde_json::to_string_pretty(&running).map_err(failure)?;
    std::fs::write(record_path(state), record).map_err(failure)?;
    println!("local stack up in {:.1} s", started.elapsed().as_secs_f64());
    print_running(&running);
    println!("Ctrl-C stops it");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(failure)?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let _gone = std::fs::remove_file(record_path(state));
    drop(deployment);
    mlflow.stop();
    println!("local stack stopped");
    Ok(exit::OK)
}

pub async fn down(state: &Path) -> Result<u8, Failure> {
    let Some(running) = running(state) else {
        let _stale = std::fs::remove_file(record_path(state));
        println!("the local stack is not running");
        return Ok(exit::OK);
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(running.pid).map_err(failure)?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).map_err(failure)?;
    let started = Instant::now();
    while alive(running.pid) {
        if started.elapsed() > Duration::from_secs(30) {
            let _killed = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _gone = std::fs::remove_file(record_path(state));
    println!("local stack stopped (pid {})", running.pid);
    Ok(exit::OK)
}
