//! Readiness: whether every dependency a function needs answers now, each checked with its own timeout.

use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::report::chain;

/// How long one dependency may take to answer a readiness check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Something whose reachability can be checked cheaply.
pub trait Probe: Send + Sync {
    /// Answers `Ok` when the dependency serves requests.
    fn probe(&self) -> impl Future<Output = Result<(), Box<dyn Error + Send + Sync>>> + Send;
}

/// One dependency's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every dependency's answer, and whether all were ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: BTreeMap<String, Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.values().all(|check| check.ok)
    }
}

/// Checks `probe` within `timeout`.
pub async fn check(probe: &impl Probe, timeout: Duration) -> Check {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, probe.probe()).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(Ok(())) => Check {
            ok: true,
            latency_ms,
            error: None,
        },
        Ok(Err(error)) => Check {
            ok: false,
            latency_ms,
            error: Some(chain(error.as_ref())),
        },
        Err(_) => Check {
            ok: false,
            latency_ms,
            error: Some(format!("no answer within {timeout:?}")),
        },
    }
}

/// Checks every named probe at once, each within `timeout`.
pub async fn check_all<P: Probe>(probes: &[(String, P)], timeout: Duration) -> Vec<(String, Check)> {
    let checks = probes
        .iter()
        .map(|(name, probe)| async move { (name.clone(), check(probe, timeout).await) });
    futures::future::join_all(checks).await
}

/// Gathers named checks into one answer.
pub fn readiness(checks: impl IntoIterator<Item = (String, Check)>) -> Readiness {
    let checks: BTreeMap<String, Check> = checks.into_iter().collect();
    let ready = checks.values().all(|check| check.ok);
    Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks,
    }
}

impl Probe for crate::store::DynamoDbStore {
    async fn probe(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
        // A read of a key that cannot exist: proves the table answers with the permissions the routes use.
        use crate::store::WorkflowStore;
        self.get(crate::backtest::RunId::new())
            .await
            .map(|_| ())
            .map_err(Into::into)
    }
}

impl Probe for crate::mlflow::MlflowClient {
    async fn probe(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
        use crate::mlflow::ModelRegistry;
        self.health().await.map_err(Into::into)
    }
}

impl Probe for crate::objects::S3Objects {
    async fn probe(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.head_bucket().await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Answers(Result<(), &'static str>, Duration);

    impl Probe for Answers {
        async fn probe(&self) -> Result<(), Box<dyn Error + Send + Sync>> {
            tokio::time::sleep(self.1).await;
            self.0.map_err(Into::into)
        }
    }

    #[tokio::test]
    async fn a_slow_or_failing_dependency_makes_the_service_not_ready() {
        let fast = check(&Answers(Ok(()), Duration::ZERO), CHECK_TIMEOUT).await;
        let failing = check(&Answers(Err("table missing"), Duration::ZERO), CHECK_TIMEOUT).await;
        let slow = check(&Answers(Ok(()), Duration::from_secs(5)), Duration::from_millis(50)).await;
        assert!(fast.ok);
        assert_eq!(failing.error.as_deref(), Some("table missing"));
        assert!(!slow.ok && slow.error.as_deref().is_some_and(|e| e.contains("no answer")));
        let all = readiness([("a".to_owned(), fast.clone()), ("b".to_owned(), slow)]);
        assert_eq!((all.status, all.is_ready()), ("not_ready", false));
        assert!(readiness([("a".to_owned(), fast)]).is_ready());
    }
}
