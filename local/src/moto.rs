//! moto, the AWS of the local deployment: its server started from the project's virtualenv with our launcher
//! (`local/moto_server.py`, which patches its Step Functions engine to behave as AWS does), and SDK configuration
//! for talking to it.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use crate::{Error, REGION, project_root};

/// A moto server started here; it exits when the process that started it does (`STAND_IN_PARENT_PID`).
pub struct Moto {
    pub url: String,
    pub log: PathBuf,
    process: Child,
}

impl Moto {
    /// Starts moto on a free port with `environment` (such as `MOTO_PORT`, where its Step Functions engine sends
    /// every integration call), logging to `.stand-ins/<log>.log`.
    pub fn start(environment: &[(&str, String)], log: &str) -> Result<Moto, Error> {
        let root = project_root();
        let python = root.join(".stand-ins/venv/bin/python");
        if !python.exists() {
            return Err(Error::NotInstalled {
                tool: "moto",
                path: python,
            });
        }
        let port = crate::free_port()?;
        let log_path = root.join(format!(".stand-ins/{log}.log"));
        let mut command = Command::new(&python);
        command
            .arg(root.join("local/moto_server.py"))
            .arg(port.to_string())
            .env("STAND_IN_PARENT_PID", std::process::id().to_string())
            .envs(environment.iter().map(|(name, value)| (*name, value.as_str())));
        let process = crate::spawn_logged(&mut command, "moto", &log_path)?;
        let mut moto = Moto {
            url: format!("http://127.0.0.1:{port}"),
            log: log_path,
            process,
        };
        if let Err(error) = crate::wait_for_port("moto", port, Duration::from_secs(60), &moto.log) {
            moto.stop();
            return Err(error);
        }
        Ok(moto)
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        let _gone = self.process.kill();
        let _reaped = self.process.wait();
    }
}

/// The app name the local stack's own calls (the tests', `tradai up`'s) carry, so they are not taken for a
/// function's.
pub const HARNESS: &str = "tradai-harness";

/// SDK configuration for a local endpoint: a fixed region, dummy credentials, calls named [`HARNESS`].
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .app_name(aws_config::AppName::new(HARNESS).expect("a valid app name"))
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tradai-local"))
        .load()
        .await
}
