//! The MLflow model registry, where strategies are registered: one registered model per strategy, versions tagged
//! with `ecr_url`, `config_path`, `timeframe`, `pairs`, `warmup_days`, and aliases (`production`, `staging`) in
//! place of the deprecated stages. Reached over MLflow's REST API behind a circuit breaker.

pub mod breaker;
mod client;
pub mod credentials;
mod tracking;

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

pub use client::{MlflowClient, MlflowOptions};
pub use credentials::Credentials;
pub use tracking::{ExperimentTracker, RunEnd, TrackedRun};

/// A registered strategy: the model and its aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Strategy {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Alias → version number.
    pub aliases: BTreeMap<String, u32>,
    pub tags: BTreeMap<String, String>,
    /// The newest version, if any was registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<u32>,
    /// Milliseconds since the epoch, as MLflow keeps them.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One registered version of a strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrategyVersion {
    pub name: String,
    pub version: u32,
    /// MLflow's registration status (`READY` once registered).
    pub status: String,
    /// The aliases pointing at this version.
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at_ms: i64,
}

impl StrategyVersion {
    /// Whether the version is archived: by the `archived` tag, or by MLflow's legacy stage.
    pub fn is_archived(&self) -> bool {
        self.tags
            .get("archived")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }
}

/// One page of strategies and the token of the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrategyPage {
    pub strategies: Vec<Strategy>,
    pub next_page_token: Option<String>,
}

/// Why the registry did not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("MLflow is not called: {0}")]
    CircuitOpen(#[from] breaker::Open),
    #[error("MLflow did not answer in time")]
    Timeout(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("MLflow could not be reached")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("MLflow answered {status}: {message}")]
    Failed { status: u16, message: String },
    #[error("MLflow's answer could not be read")]
    Malformed(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("MLflow refused the request: {0}")]
    Rejected(String),
    #[error("MLflow's credentials could not be read from the secret {secret}")]
    Credentials {
        secret: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The model registry, as the functions use it.
pub trait ModelRegistry: Send + Sync {
    /// Up to `max_results` strategies, by name, continuing at `page_token`.
    fn list_strategies(
        &self,
        max_results: u32,
        page_token: Option<&str>,
    ) -> impl Future<Output = Result<StrategyPage, RegistryError>> + Send;

    /// The strategy `name`, if registered.
    fn strategy(&self, name: &str) -> impl Future<Output = Result<Option<Strategy>, RegistryError>> + Send;

    /// Every version of strategy `name`, newest first.
    fn versions(&self, name: &str) -> impl Future<Output = Result<Vec<StrategyVersion>, RegistryError>> + Send;

    /// Version `version` of strategy `name`, if registered.
    fn version(
        &self,
        name: &str,
        version: u32,
    ) -> impl Future<Output = Result<Option<StrategyVersion>, RegistryError>> + Send;

    /// The version `alias` points at, if the alias exists.
    fn resolve_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> impl Future<Output = Result<Option<StrategyVersion>, RegistryError>> + Send;

    /// Whether MLflow answers its health check.
    fn health(&self) -> impl Future<Output = Result<(), RegistryError>> + Send;
}
