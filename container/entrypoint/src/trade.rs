//! Live and dry-run trading (the original design's MLflow-centric loading): the strategy's alias names a registered
//! version, whose `config_path` tag names its config in S3; runtime overrides are merged over it, and the engine's
//! trade mode runs with `/health` served on 8080 until it ends or the container is stopped.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tradai::mlflow::{MlflowOptions, ModelRegistry};
use tradai::objects::ObjectStore;
use tradai::report::chain;
use tradai::settings::{AwsSettings, Env, SettingsError};

use crate::failure::RunFailure;
use crate::settings::{argv, json_object, seconds};
use crate::{Engine, exit};

const DEFAULT_TRADE: &[&str] = &[
    "freqtrade",
    "trade",
    "--config",
    "{config}",
    "--strategy",
    "{strategy}",
    "--strategy-path",
    "{strategy_path}",
    "--userdir",
    "{userdir}",
];

/// What a trading container runs.
#[derive(Debug, Clone)]
pub struct TradeSettings {
    /// `live` or `dry_run` (`TRADING_MODE`).
    pub mode: String,
    /// `STRATEGY_NAME` (or `STRATEGY`): the registered model.
    pub strategy: String,
    /// `STRATEGY_STAGE`: the alias naming the version to trade (default `production`).
    pub stage: String,
    /// `CONFIG_OVERRIDES`: a JSON object merged over the version's config.
    pub overrides: Value,
    /// `TRADE_COMMAND`: the engine's argv with `{config}`, `{strategy}`, `{strategy_path}`, `{userdir}`.
    pub command: Vec<String>,
    /// `STRATEGY_PATH`: the image's strategy folder.
    pub strategy_path: PathBuf,
    pub work_dir: PathBuf,
    /// `HEALTH_PORT` (default 8080).
    pub health_port: u16,
    pub stop_grace: Duration,
    /// `MLFLOW_TRACKING_URI` (required: the strategy is loaded through the registry).
    pub mlflow: MlflowOptions,
    pub aws: AwsSettings,
}

impl TradeSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let mode = env.optional("TRADING_MODE").unwrap_or_default();
        if !matches!(mode.as_str(), "live" | "dry_run") {
            return Err(SettingsError::new(
                "TRADING_MODE",
                format!("{mode:?} is not a trading mode; expected live or dry_run"),
            ));
        }
        let strategy = env
            .optional("STRATEGY_NAME")
            .or_else(|| env.optional("STRATEGY"))
            .ok_or_else(|| SettingsError::new("STRATEGY_NAME", "required"))?;
        tradai::backtest::validate_strategy_name(&strategy)
            .map_err(|problem| SettingsError::new("STRATEGY_NAME", problem))?;
        let default_command = DEFAULT_TRADE.iter().map(|part| (*part).to_owned()).collect();
        Ok(Self {
            mode,
            strategy,
            stage: env
                .optional("STRATEGY_STAGE")
                .unwrap_or_else(|| "production".to_owned()),
            overrides: env.parsed("CONFIG_OVERRIDES", json!({}), json_object)?,
            command: env.parsed("TRADE_COMMAND", default_command, argv)?,
            strategy_path: PathBuf::from(
                env.optional("STRATEGY_PATH")
                    .unwrap_or_else(|| crate::settings::DEFAULT_STRATEGY_PATH.to_owned()),
            ),
            work_dir: PathBuf::from(env.optional("WORK_DIR").unwrap_or_else(|| "/tmp/tradai".to_owned())),
            health_port: env.parsed("HEALTH_PORT", 8080, |text| {
                text.parse().map_err(|_| format!("{text:?} is not a port"))
            })?,
            stop_grace: env.parsed("STOP_GRACE_SECONDS", Duration::from_secs(60), seconds)?,
            mlflow: env.mlflow()?,
            aws: env.aws()?,
        })
    }
}

/// Loads the strategy's config through MLflow and S3, then trades until the engine ends or `shutdown` completes.
/// Answers the exit code.
pub async fn trade(
    settings: &TradeSettings,
    registry: &impl ModelRegistry,
    objects: &impl ObjectStore,
    shutdown: impl Future<Output = ()>,
) -> i32 {
    let config = match load_config(settings, registry, objects).await {
        Ok(config) => config,
        Err(failure) => {
            tracing::error!(strategy = %settings.strategy, reason = %chain(&failure), "cannot start trading");
            return failure.exit_code();
        }
    };
    let folder = settings.work_dir.join(format!("trade-{}", settings.strategy));
    let config_file = folder.join("config.json");
    let prepared = std::fs::create_dir_all(folder.join("user_data"))
        .and_then(|()| std::fs::write(&config_file, config.to_string()));
    if let Err(error) = prepared {
        tracing::error!(%error, "cannot write the config");
        return exit::INPUTS;
    }
    let argv: Vec<String> = settings
        .command
        .iter()
        .map(|part| {
            part.replace("{config}", &config_file.display().to_string())
                .replace("{strategy_path}", &settings.strategy_path.display().to_string())
                .replace("{strategy}", &settings.strategy)
                .replace("{userdir}", &folder.join("user_data").display().to_string())
        })
        .collect();
    let mut engine = match Engine::start(&argv, &folder) {
        Ok(engine) => engine,
        Err(error) => {
            tracing::error!(%error, "cannot start the engine");
            return exit::ENGINE;
        }
    };
    let running = Arc::new(AtomicBool::new(true));
    let health = match TcpListener::bind(("0.0.0.0", settings.health_port)).await {
        Ok(listener) => tokio::spawn(serve_health(listener, running.clone(), settings.clone())),
        Err(error) => {
            tracing::error!(%error, port = settings.health_port, "cannot serve /health");
            engine.terminate();
            return exit::CONFIGURATION;
        }
    };
    tokio::pin!(shutdown);
    let status = tokio::select! {
        status = engine.child.wait() => Some(status),
        () = &mut shutdown => None,
    };
    running.store(false, Ordering::SeqCst);
    let code = match status {
        Some(Ok(status)) if status.success() => exit::OK,
        Some(_) => exit::ENGINE,
        None => {
            tracing::warn!("SIGTERM: stopping the engine");
            engine.terminate();
            if tokio::time::timeout(settings.stop_grace, engine.child.wait())
                .await
                .is_err()
            {
                engine.kill();
            }
            exit::INTERRUPTED
        }
    };
    health.abort();
    code
}

async fn load_config(
    settings: &TradeSettings,
    registry: &impl ModelRegistry,
    objects: &impl ObjectStore,
) -> Result<Value, RunFailure> {
    let version = registry
        .resolve_alias(&settings.strategy, &settings.stage)
        .await
        .map_err(|error| RunFailure::inputs_because("MLflow", error))?
        .ok_or_else(|| {
            RunFailure::inputs(format!(
                "no version of {} has the alias {}",
                settings.strategy, settings.stage
            ))
        })?;
    let (mut config, _uri) = crate::inputs::version_config(&version, &settings.strategy, objects).await?;
    tradai::config::deep_merge(&mut config, &settings.overrides);
    // The mode is the container's, whatever the config says: a dry run must never trade for real.
    config["dry_run"] = Value::Bool(settings.mode == "dry_run");
    tracing::info!(strategy = %settings.strategy, version = version.version, stage = %settings.stage, "config loaded");
    Ok(config)
}

async fn serve_health(listener: TcpListener, running: Arc<AtomicBool>, settings: TradeSettings) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let mut request = [0_u8; 1024];
        let read = socket.read(&mut request).await.unwrap_or(0);
        let line = String::from_utf8_lossy(&request[..read]);
        let healthy = running.load(Ordering::SeqCst);
        let (status, body) = if !line.starts_with("GET /health") {
            ("404 Not Found", json!({"error": "only GET /health is served"}))
        } else if healthy {
            (
                "200 OK",
                json!({"status": "healthy", "strategy": settings.strategy, "mode": settings.mode}),
            )
        } else {
            (
                "503 Service Unavailable",
                json!({"status": "stopping", "strategy": settings.strategy}),
            )
        };
        let body = body.to_string();
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _sent = socket.write_all(answer.as_bytes()).await;
    }
}
