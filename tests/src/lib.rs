//! Support for the integration tests and the demo: the tests' moto, fresh resources made from `template.yaml`
//! (by the local deployment's code), the shared local deployment, the template itself, and the sample events.

pub mod asl;
pub mod candles;
pub mod deployment;
pub mod events;
pub mod freqtrade;
pub mod iam;
pub mod mlflow;
pub mod moto;
pub mod network;
pub mod openapi;
pub mod proxy;
pub mod stack;
pub mod template;

use std::path::PathBuf;

/// The project's root folder.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the project root")
        .to_path_buf()
}

/// A loopback port nothing listens on at the moment of asking: for a dependency that is down.
pub fn free_port() -> u16 {
    tradai_local::free_port().expect("a free loopback port")
}

/// Sends the code's logs to the test's captured output, so a failing test shows what the handlers logged (and the
/// demo shows them between the answers).
pub fn capture_logs() {
    let _already = tracing_subscriber::fmt()
        .with_test_writer()
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .try_init();
}

/// The metrics port the tests give handlers: EMF lines kept in memory, to be read back.
pub type Recorded = tradai::metrics::EmfMetrics<Vec<u8>>;
/// Business metrics over [`Recorded`].
pub type RecordedMetrics = tradai::metrics::BacktestMetrics<Recorded>;

/// Business metrics written to memory, for stage `test`.
pub fn metrics() -> RecordedMetrics {
    tradai::metrics::BacktestMetrics::new(tradai::metrics::EmfMetrics::new(Vec::new()), "test")
}

/// The names and values of what `metrics` published, in order.
pub fn published(metrics: &RecordedMetrics) -> Vec<(String, f64)> {
    String::from_utf8(metrics.inner().written())
        .expect("EMF is text")
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).expect("an EMF line is JSON");
            let name = line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                .as_str()
                .expect("a metric name")
                .to_owned();
            let value = line[&name].as_f64().expect("a value");
            (name, value)
        })
        .collect()
}

/// The median of `values` (sorted in place); NaN for none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
