//! In-memory stand-ins for the ports the steps use, for the steps' unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::backtest::{BacktestJob, RunId, Status};
use crate::executor::{Handoff, LaunchError, Launcher};
use crate::images::{ImageError, ImageRef, ImageReference, ImageRegistry};
use crate::mlflow::{
    ExperimentTracker, ModelRegistry, RegistryError, RunEnd, Strategy, StrategyPage, StrategyVersion, TrackedRun,
};
use crate::notify::{Notification, Notifier, NotifyError};

/// A registry of versions and aliases; `down()` answers nothing.
#[derive(Debug, Default)]
pub struct FakeRegistry {
    versions: BTreeMap<(String, u32), StrategyVersion>,
    aliases: BTreeMap<(String, String), u32>,
    down: bool,
}

impl FakeRegistry {
    pub fn down() -> Self {
        Self {
            down: true,
            ..Self::default()
        }
    }

    pub fn with_version(mut self, name: &str, version: u32, tags: &[(&str, &str)]) -> Self {
        let registered = StrategyVersion {
            name: name.to_owned(),
            version,
            status: "READY".to_owned(),
            aliases: Vec::new(),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            run_id: None,
            source: None,
            description: None,
            created_at_ms: 0,
        };
        self.versions.insert((name.to_owned(), version), registered);
        self
    }

    pub fn with_alias(mut self, name: &str, alias: &str, version: u32) -> Self {
        self.aliases.insert((name.to_owned(), alias.to_owned()), version);
        self
    }

    fn answer<T>(&self, value: T) -> Result<T, RegistryError> {
        if self.down {
            Err(RegistryError::Unreachable("connection refused".into()))
        } else {
            Ok(value)
        }
    }
}

impl ModelRegistry for FakeRegistry {
    async fn list_strategies(&self, _max: u32, _token: Option<&str>) -> Result<StrategyPage, RegistryError> {
        self.answer(StrategyPage {
            strategies: Vec::new(),
            next_page_token: None,
        })
    }

    async fn strategy(&self, _name: &str) -> Result<Option<Strategy>, RegistryError> {
        self.answer(None)
    }

    async fn versions(&self, name: &str) -> Result<Vec<StrategyVersion>, RegistryError> {
        let mut versions: Vec<StrategyVersion> = self.versions.values().filter(|v| v.name == name).cloned().collect();
        versions.reverse();
        self.answer(versions)
    }

    async fn version(&self, name: &str, version: u32) -> Result<Option<StrategyVersion>, RegistryError> {
        self.answer(self.versions.get(&(name.to_owned(), version)).cloned())
    }

    async fn resolve_alias(&self, name: &str, alias: &str) -> Result<Option<StrategyVersion>, RegistryError> {
        let version = self.aliases.get(&(name.to_owned(), alias.to_owned()));
        self.answer(version.and_then(|version| self.versions.get(&(name.to_owned(), *version)).cloned()))
    }

    async fn health(&self) -> Result<(), RegistryError> {
        self.answer(())
    }
}

/// An image registry holding the images of the given URLs.
#[derive(Debug, Default)]
pub struct FakeImages(BTreeSet<(String, String)>);

impl FakeImages {
    pub fn with(urls: &[&str]) -> Self {
        Self(
            urls.iter()
                .filter_map(|url| ImageRef::parse(url))
                .map(|image| (image.repository.clone(), reference(&image)))
                .collect(),
        )
    }
}

fn reference(image: &ImageRef) -> String {
    match &image.reference {
        ImageReference::Tag(text) | ImageReference::Digest(text) => text.clone(),
    }
}

impl ImageRegistry for FakeImages {
    /// A tag's digest is the SHA-256 of `repository:tag`, as a registry would give; a digest is held when it is
    /// named in a URL or is the digest of a held tag.
    async fn digest(&self, image: &ImageRef) -> Result<Option<String>, ImageError> {
        let tag_digest = |tag: &str| crate::run_manifest::sha256_of(format!("{}:{tag}", image.repository).as_bytes());
        let held = self.0.contains(&(image.repository.clone(), reference(image)));
        Ok(match &image.reference {
            ImageReference::Tag(tag) => held.then(|| tag_digest(tag)),
            ImageReference::Digest(digest) => {
                let of_a_tag = self
                    .0
                    .iter()
                    .any(|(repository, held)| *repository == image.repository && tag_digest(held) == *digest);
                (held || of_a_tag).then(|| digest.clone())
            }
        })
    }
}

/// A notifier that keeps what it was given; `failing` publishes nothing.
#[derive(Debug, Default)]
pub struct FakeNotifier {
    pub published: Mutex<Vec<Notification>>,
    pub failing: bool,
}

impl FakeNotifier {
    pub fn sent(&self) -> Vec<Notification> {
        self.published.lock().map(|sent| sent.clone()).unwrap_or_default()
    }
}

impl Notifier for FakeNotifier {
    async fn publish(&self, notification: &Notification) -> Result<String, NotifyError> {
        if self.failing {
            return Err(NotifyError("the topic is unavailable".into()));
        }
        let mut sent = self.published.lock().map_err(|_| NotifyError("poisoned".into()))?;
        sent.push(notification.clone());
        Ok(format!("message-{}", sent.len()))
    }
}

/// An experiment tracker that knows the runs it was given and keeps the artifacts logged to them.
#[derive(Debug, Default)]
pub struct FakeTracker {
    pub runs: BTreeSet<String>,
    pub artifacts: Mutex<Vec<(String, String)>>,
}

impl FakeTracker {
    pub fn with_run(run_id: &str) -> Self {
        Self {
            runs: BTreeSet::from([run_id.to_owned()]),
            artifacts: Mutex::default(),
        }
    }

    pub fn logged(&self) -> Vec<(String, String)> {
        self.artifacts.lock().map(|logged| logged.clone()).unwrap_or_default()
    }
}

impl ExperimentTracker for FakeTracker {
    async fn start_run(
        &self,
        _experiment: &str,
        name: &str,
        _tags: &BTreeMap<String, String>,
    ) -> Result<TrackedRun, RegistryError> {
        Ok(TrackedRun {
            experiment_id: "1".into(),
            run_id: name.to_owned(),
            artifact_uri: format!("mlflow-artifacts:/1/{name}/artifacts"),
        })
    }

    async fn log_batch(
        &self,
        _run: &TrackedRun,
        _params: &BTreeMap<String, String>,
        _metrics: &BTreeMap<String, f64>,
    ) -> Result<(), RegistryError> {
        Ok(())
    }

    async fn log_artifact(&self, run: &TrackedRun, path: &str, _bytes: Vec<u8>) -> Result<(), RegistryError> {
        let mut logged = self
            .artifacts
            .lock()
            .map_err(|_| RegistryError::Rejected("poisoned".into()))?;
        logged.push((run.run_id.clone(), path.to_owned()));
        Ok(())
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<TrackedRun>, RegistryError> {
        Ok(self.runs.contains(run_id).then(|| TrackedRun {
            experiment_id: "1".into(),
            run_id: run_id.to_owned(),
            artifact_uri: String::new(),
        }))
    }

    async fn end_run(&self, _run: &TrackedRun, _end: RunEnd) -> Result<(), RegistryError> {
        Ok(())
    }

    async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), RegistryError> {
        let mut logged = self
            .artifacts
            .lock()
            .map_err(|_| RegistryError::Rejected("poisoned".into()))?;
        logged.push((run_id.to_owned(), format!("tag {key}={value}")));
        Ok(())
    }
}

/// A job of strategy EmaCross version 3, in `status`.
pub fn sample_record(status: crate::backtest::Status) -> crate::backtest::WorkflowRecord {
    let body = br#"{"strategy_name":"EmaCross","strategy_version":3,"config":{"timeframe":"5m",
        "symbols":["BTC/USDT","ETH/USDT"],"start_date":"2026-01-05","end_date":"2026-03-01"}}"#;
    let now = crate::time::Timestamp::now();
    let request = crate::backtest::BacktestRequest::from_json(body, now.date()).expect("a valid request");
    crate::backtest::WorkflowRecord::new(crate::backtest::RunId::new(), request, status, now)
}

/// A launcher that starts each run once, as Step Functions does with an execution named by the run id, and refuses
/// the runs in `refused`.
#[derive(Debug, Default)]
pub struct FakeExecutions {
    pub started: Mutex<Vec<RunId>>,
    pub refused: Vec<RunId>,
}

impl FakeExecutions {
    pub fn started(&self) -> Vec<RunId> {
        self.started.lock().map(|started| started.clone()).unwrap_or_default()
    }
}

impl Launcher for FakeExecutions {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        if self.refused.contains(&job.run_id) {
            return Err(LaunchError::Refused("no such task definition".into()));
        }
        let mut started = self
            .started
            .lock()
            .map_err(|_| LaunchError::Refused("poisoned".into()))?;
        if !started.contains(&job.run_id) {
            started.push(job.run_id);
        }
        Ok(Handoff {
            execution_arn: Some(format!("arn:aws:states:us-east-1:1:execution:tradai:{}", job.run_id)),
            task_arn: None,
        })
    }
}
