use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{ContainerContext, Handoff, LaunchError, Launcher, container_environment};
use crate::backtest::{BacktestJob, Status};
use crate::settings::Env;

/// Variables a local strategy process inherits from its launcher, as an ECS task gets them from its task role and
/// agent: the region, the credentials, and (locally) the stand-ins' endpoint; plus what finding programs needs.
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_EC2_METADATA_DISABLED",
];

/// The [`INHERITED`] variables of `env` (the launcher's own environment).
pub fn inherited(env: &Env) -> Vec<(String, String)> {
    INHERITED
        .iter()
        .filter_map(|name| env.optional(name).map(|value| ((*name).to_owned(), value)))
        .collect()
}

/// `EXECUTOR_MODE=local` (development): the strategy container's entrypoint started as a local process with the
/// environment the ECS container overrides would give it, and nothing else of the launcher's.
#[derive(Debug, Clone)]
pub struct LocalProcess {
    program: PathBuf,
    context: ContainerContext,
    log_dir: Option<PathBuf>,
    inherited: Vec<(String, String)>,
}

impl LocalProcess {
    /// Starts `program` (the entrypoint) for each job with `inherited` (see [`inherited`]) and the container's
    /// environment; its output goes to `log_dir/<run_id>.log` when given.
    pub fn new(
        program: impl Into<PathBuf>,
        context: ContainerContext,
        log_dir: Option<PathBuf>,
        inherited: Vec<(String, String)>,
    ) -> Self {
        Self {
            program: program.into(),
            context,
            log_dir,
            inherited,
        }
    }

    /// The environment the process gets for `job`: what it inherits, then the container's.
    pub fn environment(&self, job: &BacktestJob) -> Vec<(String, String)> {
        let mut environment = self.inherited.clone();
        environment.extend(container_environment(job, &self.context));
        environment
    }
}

impl Launcher for LocalProcess {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        let log = self
            .log_dir
            .as_ref()
            .map(|folder| folder.join(format!("{}.log", job.run_id)));
        let mut child = start_entrypoint(&self.program, self.environment(job), log.as_deref())?;
        let run_id = job.run_id;
        // Reap the process when it ends, so it never lingers as a zombie of the launcher.
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => tracing::info!(%run_id, %status, "local strategy process ended"),
                Err(error) => tracing::warn!(%run_id, %error, "local strategy process could not be awaited"),
            }
        });
        Ok(Handoff::default())
    }
}

/// Starts the strategy container's entrypoint `program` as a local process, as a container starts: with
/// `environment` (what it inherits, see [`inherited`], and the container's) and nothing else, in a process group of
/// its own (so a stop reaches the engine it starts), its output to `log` when given. The one way both
/// `EXECUTOR_MODE=local` and the local ECS of the workflow runner start it.
pub fn start_entrypoint(
    program: &Path,
    environment: Vec<(String, String)>,
    log: Option<&Path>,
) -> Result<tokio::process::Child, LaunchError> {
    let (stdout, stderr) = match log {
        Some(file) => {
            if let Some(folder) = file.parent() {
                std::fs::create_dir_all(folder).map_err(LaunchError::unavailable)?;
            }
            let log = std::fs::File::create(file).map_err(LaunchError::unavailable)?;
            let copy = log.try_clone().map_err(LaunchError::unavailable)?;
            (Stdio::from(log), Stdio::from(copy))
        }
        None => (Stdio::inherit(), Stdio::inherit()),
    };
    tokio::process::Command::new(program)
        .env_clear()
        .envs(environment)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|error| LaunchError::Refused(format!("cannot start {}: {error}", program.display())))
}
