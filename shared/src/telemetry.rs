//! Structured logs: one JSON object per line, with the fields of the current span (such as `run_id`).

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber. The level comes from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else info.
/// Calling it twice is harmless.
pub fn init() {
    let env = crate::settings::Env::process();
    let filter = env
        .optional("RUST_LOG")
        .or_else(|| env.optional("AWS_LAMBDA_LOG_LEVEL"))
        .map(|level| level.to_lowercase())
        .unwrap_or_else(|| "info".to_owned());
    let _already_installed = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .try_init();
}
