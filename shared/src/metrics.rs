//! Operational metrics: one port, and its adapter in CloudWatch's embedded metric format (EMF): one JSON line on
//! standard output per count, which Lambda's log pipeline turns into a CloudWatch metric — no API call on the
//! function's path, no `cloudwatch:PutMetricData` permission. Alarms in the template read what is published here.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::time::Timestamp;

/// The namespace of every TradAI metric.
pub const NAMESPACE: &str = "TradAI/Backtests";

/// A count published under a name, with dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub name: String,
    pub value: f64,
    /// `(name, value)` pairs, such as `("Environment", "dev")`.
    pub dimensions: Vec<(String, String)>,
}

/// Where metrics go.
pub trait Metrics: Send + Sync {
    fn put_count(&self, count: &Count) -> impl Future<Output = Result<(), MetricsError>> + Send;
}

/// The metric was not published.
#[derive(Debug, thiserror::Error)]
#[error("the metric could not be published")]
pub struct MetricsError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// EMF lines written to `out` (standard output in a function).
#[derive(Debug, Clone)]
pub struct EmfMetrics<W> {
    out: Arc<Mutex<W>>,
}

impl EmfMetrics<std::io::Stdout> {
    /// Metrics on standard output, where Lambda collects them.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write + Send> EmfMetrics<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: Arc::new(Mutex::new(out)),
        }
    }

    /// What was written, for a test that gave a buffer.
    pub fn written(&self) -> Vec<u8>
    where
        W: AsRef<[u8]>,
    {
        self.out.lock().map(|out| out.as_ref().to_vec()).unwrap_or_default()
    }
}

/// The EMF document of `count` at `at`.
pub fn emf_line(count: &Count, at: Timestamp) -> Value {
    let names: Vec<&str> = count.dimensions.iter().map(|(name, _)| name.as_str()).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".to_owned(),
        json!({"Timestamp": at.epoch_millis(), "CloudWatchMetrics": [{"Namespace": NAMESPACE,
            "Dimensions": [names], "Metrics": [{"Name": count.name, "Unit": "Count"}]}]}),
    );
    for (name, value) in &count.dimensions {
        document.insert(name.clone(), Value::from(value.as_str()));
    }
    document.insert(count.name.clone(), json!(count.value));
    Value::Object(document)
}

impl<W: Write + Send> Metrics for EmfMetrics<W> {
    async fn put_count(&self, count: &Count) -> Result<(), MetricsError> {
        let line = emf_line(count, Timestamp::now()).to_string();
        let mut out = self
            .out
            .lock()
            .map_err(|_| MetricsError("the metrics output is poisoned".into()))?;
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|error| MetricsError(Box::new(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_count_is_one_emf_line_with_its_dimensions() {
        let metrics = EmfMetrics::new(Vec::new());
        let count = Count {
            name: "OrphanedJobs".into(),
            value: 3.0,
            dimensions: vec![("Environment".into(), "dev".into())],
        };
        metrics.put_count(&count).await.expect("written");
        let written = String::from_utf8(metrics.written()).expect("text");
        assert_eq!(written.lines().count(), 1);
        let line: Value = serde_json::from_str(written.trim()).expect("JSON");
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Environment"]]));
        assert_eq!(declared["Metrics"], json!([{"Name": "OrphanedJobs", "Unit": "Count"}]));
        assert_eq!(
            (line["Environment"].clone(), line["OrphanedJobs"].clone()),
            (json!("dev"), json!(3.0))
        );
        assert!(
            line["_aws"]["Timestamp"]
                .as_i64()
                .is_some_and(|ms| ms > 1_700_000_000_000)
        );
    }
}
