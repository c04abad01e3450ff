//! TradAI Serverless on one machine, from the files that are deployed: `template.yaml` read as CloudFormation reads
//! it ([`template`]), its resources made in moto ([`moto`], [`resources`]), the state machine definition created
//! with the template's substitutions filled the local way, the function binaries under `cargo lambda watch`
//! ([`functions`]), one loopback endpoint that routes every AWS call ([`router`]) — Lambda Invoke to the functions,
//! ECS to a local ECS that runs the strategy container's entrypoint as a process ([`ecs`]), the rest to moto — and
//! the event sources AWS would drive ([`event_source`]). [`Deployment`] starts all of it.
//!
//! Runtime failures are [`Error`]s that say what to do about them, never panics.

pub mod calls;
pub mod deployment;
pub mod ecs;
pub mod event_source;
pub mod functions;
pub mod http_api;
pub mod images;
pub mod mlflow;
pub mod moto;
pub mod physical;
pub mod resources;
pub mod router;
pub mod template;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use deployment::{Deployment, DeploymentOptions};
pub use resources::Resources;
pub use template::Template;

/// The account and region local ARNs carry.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// Why the local deployment could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{tool} is not installed at {}: run `make stand-ins` (make test does)", path.display())]
    NotInstalled { tool: &'static str, path: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {what}")]
    Start {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not listen on port {port} within {waited:?}; see {}", log.display())]
    NotListening {
        what: &'static str,
        port: u16,
        waited: Duration,
        log: PathBuf,
    },
    #[error("{what} did not become healthy within {waited:?}; see {}", log.display())]
    Unhealthy {
        what: String,
        waited: Duration,
        log: PathBuf,
    },
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("{what} failed")]
    Aws {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("function {function} failed: {message}")]
    Function { function: String, message: String },
}

impl Error {
    /// An AWS call (to moto) that failed, with what it was for.
    pub fn aws(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Aws {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// The project this crate belongs to: where `template.yaml`, `statemachine/` and `.stand-ins/` are.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Binary `name` of the workspace's debug build (`CARGO_TARGET_DIR`, else `target/`).
pub fn debug_binary(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| project_root().join("target"), PathBuf::from);
    target.join("debug").join(name)
}

/// A loopback port nothing listens on at the moment of asking.
pub fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|source| Error::Start {
            what: "a loopback listener".to_owned(),
            source,
        })
}

/// Starts `command` (`what`, for errors) with no input and its output and errors in a fresh `log`.
pub fn spawn_logged(command: &mut std::process::Command, what: &str, log: &Path) -> Result<std::process::Child, Error> {
    let opened = std::fs::File::create(log).and_then(|file| Ok((file.try_clone()?, file)));
    let (stdout, stderr) = opened.map_err(|source| Error::Start {
        what: format!("the log {}", log.display()),
        source,
    })?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|source| Error::Start {
            what: what.to_owned(),
            source,
        })
}

/// Serves HTTP/1 connections on `listener` until the process ends, each request answered by `answer` (given the
/// peer's address).
pub(crate) async fn serve<A, F>(listener: tokio::net::TcpListener, answer: A)
where
    A: Fn(hyper::Request<hyper::body::Incoming>, std::net::SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let answered = answer(request, peer);
                async move { Ok::<_, std::convert::Infallible>(answered.await) }
            });
            let _closed = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Waits until something listens on loopback `port`, at most `limit`.
pub fn wait_for_port(what: &'static str, port: u16, limit: Duration, log: &Path) -> Result<(), Error> {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > limit {
            return Err(Error::NotListening {
                what,
                port,
                waited: limit,
                log: log.to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
