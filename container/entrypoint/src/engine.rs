//! The engine as a child process: started with its output streamed through ours, watched for Freqtrade's error
//! lines, and stopped the way ECS stops a container (SIGTERM, then SIGKILL after a grace period). While it runs,
//! the job's heartbeat is kept, and a heartbeat that finds the job no longer RUNNING (a cancel) stops it.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tradai::backtest::RunId;
use tradai::report::chain;
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;

use crate::failure::RunFailure;
use crate::settings::EntrypointSettings;
use crate::shutdown::Shutdown;
use crate::workspace::Workspace;

/// What the engine said that matters once it has exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The last line that reports an error (Freqtrade's `- ERROR -` lines, tracebacks' last line).
    pub last_error: Option<String>,
    /// The last line on stderr at all, for engines that fail without an error line.
    pub last_line: Option<String>,
    /// Whether any `- ERROR -` line appeared: Freqtrade exits 0 on many failures but always logs one.
    pub reported_error: bool,
}

/// A running engine.
pub struct Engine {
    pub child: Child,
    transcript: Arc<Mutex<Transcript>>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
}

/// What of our environment the engine gets: what a Python program needs to run (its search path, the user, the
/// locale, the time zone, temporary files) and Freqtrade's own settings (`FREQTRADE__*`: a bot's exchange keys,
/// which ECS injects for the engine). Never the address of the task role's credentials, the AWS endpoints, tables
/// and buckets, or MLflow's password: strategy code is users' code and runs inside the engine, and every AWS and
/// MLflow call of a run is the entrypoint's own.
pub fn engine_environment(ours: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    const KEPT: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "VIRTUAL_ENV",
        "FT_APP_ENV",
    ];
    const KEPT_PREFIXES: &[&str] = &["LC_", "PYTHON", "FREQTRADE__"];
    ours.into_iter()
        .filter(|(name, _)| {
            KEPT.contains(&name.as_str()) || KEPT_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        })
        .collect()
}

/// Freqtrade's usage errors (an unknown flag) come from argparse, with no `- ERROR -` line and, in places, exit 0.
fn is_usage_error(line: &str) -> bool {
    line.starts_with("freqtrade: error:")
}

fn is_error_line(line: &str) -> bool {
    is_usage_error(line)
        || line.contains(" - ERROR - ")
        || line.starts_with("ERROR")
        || line.contains("Error: ")
        || line.ends_with("Error")
        || line.contains("Exception: ")
}

impl Engine {
    /// Starts `argv` in `folder`.
    pub fn start(argv: &[String], folder: &Path) -> std::io::Result<Self> {
        let (program, arguments) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("an empty engine command"))?;
        let mut child = Command::new(program)
            .args(arguments)
            .env_clear()
            .envs(engine_environment(std::env::vars()))
            .current_dir(folder)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a stop reaches whatever the engine started, not only the engine.
            .process_group(0)
            .spawn()?;
        let transcript = Arc::new(Mutex::new(Transcript::default()));
        let mut pumps = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(stdout, transcript.clone(), false)));
        }
        if let Some(stderr) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(stderr, transcript.clone(), true)));
        }
        Ok(Self {
            child,
            transcript,
            pumps,
        })
    }

    /// Asks the engine and its process group to stop, as ECS does: SIGTERM.
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Stops the engine and its process group at once: SIGKILL.
    pub fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok()) {
            // The group may be gone already; there is nothing else to do then.
            let _gone = kill(Pid::from_raw(-pid), signal);
        }
    }

    /// What the engine said. Output still held open by a stray grandchild is not waited for beyond a moment.
    pub async fn transcript(&mut self) -> Transcript {
        for pump in self.pumps.drain(..) {
            if tokio::time::timeout(std::time::Duration::from_secs(2), pump)
                .await
                .is_err()
            {
                tracing::warn!("engine output still open after it exited; not waiting for it");
            }
        }
        self.transcript
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn pump(stream: impl AsyncRead + Unpin, transcript: Arc<Mutex<Transcript>>, stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        let mut transcript = transcript.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if line.contains(" - ERROR - ") || is_usage_error(&line) {
            transcript.reported_error = true;
        }
        if is_error_line(&line) {
            transcript.last_error = Some(line.trim().to_owned());
        }
        if stderr && !line.trim().is_empty() {
            transcript.last_line = Some(line.trim().to_owned());
        }
    }
}

/// How the engine phase ended.
#[derive(Debug)]
pub enum EngineEnd {
    /// The engine exited 0 without reporting an error: its result can be read.
    Finished,
    /// The job was cancelled while the engine ran; the engine was stopped.
    Cancelled,
    /// The container was asked to stop (SIGTERM); the engine was stopped.
    Interrupted,
}

/// Why the engine is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancelled,
    Interrupted,
}

/// Runs the engine command in `workspace` until it exits, keeping the job's heartbeat; a cancel seen by the
/// heartbeat, or `shutdown`, stops it (SIGTERM, then SIGKILL after the grace period).
pub async fn run_engine(
    settings: &EntrypointSettings,
    workspace: &Workspace,
    store: &impl WorkflowStore,
    shutdown: &mut Shutdown<'_, impl Future<Output = ()>>,
) -> Result<EngineEnd, RunFailure> {
    let run_id = settings.run_id;
    let argv = workspace.engine_argv(settings);
    tracing::info!(%run_id, command = ?argv, "starting the engine");
    let mut engine = Engine::start(&argv, &workspace.folder).map_err(|source| RunFailure::EngineStart {
        program: argv.first().cloned().unwrap_or_default(),
        source,
    })?;
    let heartbeat = heartbeat(store, run_id, settings.heartbeat);
    tokio::pin!(heartbeat);
    let mut stopping: Option<Stop> = None;
    let kill_at = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(kill_at);
    let status = loop {
        tokio::select! {
            status = engine.child.wait() => break status,
            () = shutdown.requested(), if stopping.is_none() => {
                tracing::warn!(%run_id, "SIGTERM: stopping the engine");
                engine.terminate();
                stopping = Some(Stop::Interrupted);
                kill_at.as_mut().reset(tokio::time::Instant::now() + settings.stop_grace);
            }
            () = &mut heartbeat, if stopping.is_none() => {
                tracing::warn!(%run_id, "the job is no longer RUNNING (cancelled?): stopping the engine");
                engine.terminate();
                stopping = Some(Stop::Cancelled);
                kill_at.as_mut().reset(tokio::time::Instant::now() + settings.stop_grace);
            }
            () = &mut kill_at => {
                tracing::error!(%run_id, "the engine ignored SIGTERM; killing it");
                engine.kill();
            }
        }
    };
    let transcript = engine.transcript().await;
    match stopping {
        Some(Stop::Cancelled) => return Ok(EngineEnd::Cancelled),
        Some(Stop::Interrupted) => return Ok(EngineEnd::Interrupted),
        None => {}
    }
    let status = status.map_err(RunFailure::EngineLost)?;
    if !status.success() {
        return Err(RunFailure::EngineExited {
            code: status
                .code()
                .map_or_else(|| "a signal".to_owned(), |code| code.to_string()),
            said: transcript
                .last_error
                .or(transcript.last_line)
                .unwrap_or_else(|| "no output".to_owned()),
        });
    }
    if transcript.reported_error {
        return Err(RunFailure::EngineReported {
            said: transcript.last_error.unwrap_or_default(),
        });
    }
    Ok(EngineEnd::Finished)
}

/// Refreshes the job's `updated_at` every `every` while the engine runs, concurrently with everything else the
/// engine phase watches; each beat has `every` (at most 30 s) to answer, so a store that hangs delays no stop.
/// Completes when a beat finds the job no longer RUNNING: whoever runs it should stop.
async fn heartbeat(store: &impl WorkflowStore, run_id: RunId, every: Duration) {
    let patience = every.min(Duration::from_secs(30));
    let mut beat = tokio::time::interval(every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        beat.tick().await;
        match tokio::time::timeout(patience, store.heartbeat(run_id, Timestamp::now())).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(error)) => tracing::warn!(%run_id, error = %chain(&error), "heartbeat not recorded; retrying"),
            Err(_) => tracing::warn!(%run_id, ?patience, "heartbeat got no answer in time; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_keeps_what_python_and_freqtrade_need_and_nothing_that_reaches_aws_or_mlflow() {
        let ours = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/ftuser"),
            ("LC_ALL", "C.UTF-8"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("FREQTRADE__EXCHANGE__KEY", "the bot's key"),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/a-guid"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/x"),
            ("MLFLOW_TRACKING_PASSWORD", "hunter2"),
            ("MLFLOW_TRACKING_URI", "http://mlflow:5000"),
            ("WORKFLOW_STATE_TABLE", "tradai-workflow-state-dev"),
            ("S3_RESULTS_BUCKET", "results"),
        ];
        let kept: Vec<String> = engine_environment(ours.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            kept,
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "PYTHONDONTWRITEBYTECODE",
                "FREQTRADE__EXCHANGE__KEY"
            ]
        );
    }

    #[test]
    fn recognises_freqtrade_and_python_error_lines() {
        assert!(is_error_line(
            "2026-01-05 10:00:00,000 - freqtrade - ERROR - No data found. Terminating."
        ));
        assert!(is_error_line("KeyError: 'entry_pricing'"));
        assert!(is_error_line("ValueError: naive timestamps"));
        assert!(is_error_line("freqtrade: error: unrecognized arguments: --cache none"));
        assert!(is_usage_error("freqtrade: error: unrecognized arguments: --cache none"));
        assert!(!is_error_line(
            "2026-01-05 10:00:00,000 - freqtrade - INFO - Loading data"
        ));
    }
}
