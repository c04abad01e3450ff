use std::path::PathBuf;
use std::process::Stdio;

use super::{ContainerContext, Handoff, LaunchError, Launcher, container_environment};
use crate::backtest::{BacktestJob, Status};

/// Variables a local strategy process inherits from its launcher, as an ECS task gets them from its task role and
/// agent: the region, the credentials, and (locally) the stand-ins' endpoint; plus what finding programs needs.
pub const INHERITED: &[&str] = &[
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

/// `EXECUTOR_MODE=local` (development): the strategy container's entrypoint started as a local process with the
/// environment the ECS container overrides would give it, and nothing else of the launcher's.
#[derive(Debug, Clone)]
pub struct LocalProcess {
    program: PathBuf,
    context: ContainerContext,
    log_dir: Option<PathBuf>,
}

impl LocalProcess {
    /// Starts `program` (the entrypoint) for each job; its output goes to `log_dir/<run_id>.log` when given.
    pub fn new(program: impl Into<PathBuf>, context: ContainerContext, log_dir: Option<PathBuf>) -> Self {
        Self {
            program: program.into(),
            context,
            log_dir,
        }
    }

    /// The environment the process gets for `job`.
    pub fn environment(&self, job: &BacktestJob) -> Vec<(String, String)> {
        let mut environment: Vec<(String, String)> = INHERITED
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| ((*name).to_owned(), value)))
            .collect();
        environment.extend(container_environment(job, &self.context));
        environment
    }
}

impl Launcher for LocalProcess {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        let (stdout, stderr) = match &self.log_dir {
            Some(folder) => {
                std::fs::create_dir_all(folder).map_err(LaunchError::unavailable)?;
                let log = std::fs::File::create(folder.join(format!("{}.log", job.run_id)))
                    .map_err(LaunchError::unavailable)?;
                let copy = log.try_clone().map_err(LaunchError::unavailable)?;
                (Stdio::from(log), Stdio::from(copy))
            }
            None => (Stdio::inherit(), Stdio::inherit()),
        };
        let mut child = tokio::process::Command::new(&self.program)
            .env_clear()
            .envs(self.environment(job))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|error| LaunchError::Refused(format!("cannot start {}: {error}", self.program.display())))?;
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
