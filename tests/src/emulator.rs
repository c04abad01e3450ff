//! The AWS stand-in the tests talk to: the moto server named by `AWS_ENDPOINT_URL` (as `make test` starts it),
//! or else one started here from the project's virtualenv, once per test process, that exits with the process.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use crate::project_root;

/// The region every local resource lives in.
pub const REGION: &str = "us-east-1";

/// The endpoint of a running moto server.
pub fn endpoint() -> &'static str {
    static EMULATOR: OnceLock<(String, Option<Child>)> = OnceLock::new();
    let (url, _process) = EMULATOR.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().trim_end_matches('/').to_owned(), None),
        _ => {
            let (url, process) = start_moto();
            (url, Some(process))
        }
    });
    url
}

/// SDK configuration for the stand-in: its endpoint, a fixed region, dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(endpoint()).await
}

/// SDK configuration for a local endpoint: a fixed region, dummy credentials.
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tradai-tests"))
        .load()
        .await
}

/// Starts moto on a free port; it exits by itself when this process ends (STAND_IN_PARENT_PID).
fn start_moto() -> (String, Child) {
    start_moto_with(&[], "moto-tests")
}

/// Starts a moto of its own on a free port with `environment` (such as `MOTO_PORT`, where its Step Functions
/// engine sends every integration call), logging to `.stand-ins/<log>.log`; it exits with this process.
pub fn start_moto_with(environment: &[(&str, String)], log: &str) -> (String, Child) {
    let root = project_root();
    let python = root.join(".stand-ins/venv/bin/python");
    assert!(
        python.exists(),
        "the stand-ins are not installed: run `make stand-ins` (or `make test`), which creates {}",
        python.display()
    );
    let port = crate::free_port();
    let log_path = root.join(format!(".stand-ins/{log}.log"));
    let log = std::fs::File::create(&log_path).expect("moto log file");
    let stderr = log.try_clone().expect("moto log file");
    let process = Command::new(&python)
        .arg(root.join("tests/stand-ins/moto_server.py"))
        .arg(port.to_string())
        .env("STAND_IN_PARENT_PID", std::process::id().to_string())
        .envs(environment.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .expect("moto starts");
    wait_for_port(port, Duration::from_secs(60), &log_path);
    (format!("http://127.0.0.1:{port}"), process)
}

fn wait_for_port(port: u16, limit: Duration, log: &Path) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < limit,
            "moto did not listen on {port} within {limit:?}; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
