//! A real MLflow tracking server for the local deployment: `mlflow server` from the project's virtualenv through
//! our launcher (`local/mlflow_server.py`: SQLite store, artifacts served through MLflow's proxy), on a free
//! loopback port, stopped with the process that started it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{Error, project_root};

/// How long MLflow may take to answer its health check: its first start migrates the store (20–40 s here).
pub const STARTUP: Duration = Duration::from_secs(240);

/// An MLflow server started here.
pub struct Mlflow {
    pub url: String,
    pub log: PathBuf,
    process: Child,
}

impl Mlflow {
    /// Starts MLflow with its store and artifacts under `state` (made if missing), logging to `log`; answers once
    /// it listens (not yet healthy: see [`Mlflow::wait_until_healthy`]).
    pub fn start(state: &Path, log: &Path) -> Result<Mlflow, Error> {
        let root = project_root();
        let python = root.join(".stand-ins/venv/bin/python");
        if !python.exists() {
            return Err(Error::NotInstalled {
                tool: "MLflow",
                path: python,
            });
        }
        let port = crate::free_port()?;
        let mut command = Command::new(python);
        command
            .arg(root.join("local/mlflow_server.py"))
            .arg(port.to_string())
            .arg(state)
            .env("STAND_IN_PARENT_PID", std::process::id().to_string());
        let process = crate::spawn_logged(&mut command, "MLflow", log)?;
        Ok(Mlflow {
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
            process,
        })
    }

    /// Waits until MLflow answers its health check, at most [`STARTUP`].
    pub async fn wait_until_healthy(&self) -> Result<(), Error> {
        wait_until_healthy(&self.url, &self.log).await
    }

    /// Stops the server (the launcher stops its process group).
    pub fn stop(&mut self) {
        if let Ok(pid) = i32::try_from(self.process.id()) {
            let _gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let _reaped = self.process.wait();
    }
}

/// Waits until the MLflow at `url` answers `GET /health` with 200, at most [`STARTUP`]; `log` is named if not.
pub async fn wait_until_healthy(url: &str, log: &Path) -> Result<(), Error> {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|error| Error::Start {
            what: "an HTTP client".to_owned(),
            source: std::io::Error::other(error),
        })?;
    loop {
        let healthy = http
            .get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|answer| answer.status().is_success());
        if healthy {
            return Ok(());
        }
        if started.elapsed() > STARTUP {
            return Err(Error::Unhealthy {
                what: format!("MLflow at {url}"),
                waited: STARTUP,
                log: log.to_path_buf(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
