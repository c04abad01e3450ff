//! The entrypoint's environment: the job (as the ECS overrides or the local launcher give it) and how to run it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tradai::backtest::RunId;

/// The engine command when `ENGINE_COMMAND` does not give one: Freqtrade's backtest, as ENGINE.md measured it.
pub const DEFAULT_ENGINE: &[&str] = &[
    "freqtrade",
    "backtesting",
    "--config",
    "{config}",
    "--userdir",
    "{userdir}",
    "--datadir",
    "{datadir}",
    "--strategy",
    "{strategy}",
    "--timeframe",
    "{timeframe}",
    "--timerange",
    "{timerange}",
    "--export",
    "trades",
    "--cache",
    "none",
    "--backtest-directory",
    "{backtest_directory}",
];

/// What the entrypoint runs, read once at start.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrypointSettings {
    pub run_id: RunId,
    pub trading_mode: String,
    pub strategy: String,
    /// `STRATEGY_VERSION`: the registered version (or alias) the run belongs to.
    pub strategy_version: String,
    /// `EXPERIMENT_NAME`: the MLflow experiment (default `backtests/{STRATEGY}`).
    pub experiment_name: String,
    /// `S3_RESULTS_BUCKET`: where the raw result goes, under `results/{run_id}/`.
    pub results_bucket: Option<String>,
    pub timeframe: String,
    pub timerange: String,
    pub pairs: Vec<String>,
    pub workflow_table: String,
    pub mlflow_tracking_uri: Option<String>,
    /// How long to wait for MLflow before giving up (`MLFLOW_WAIT_SECONDS`, default 120).
    pub mlflow_wait: Duration,
    /// How often `updated_at` is refreshed while the engine runs (`HEARTBEAT_SECONDS`, default 120).
    pub heartbeat: Duration,
    /// How long the engine has to stop after SIGTERM before it is killed (`STOP_GRACE_SECONDS`, default 60: well
    /// within ECS's 120 s stop timeout).
    pub stop_grace: Duration,
    /// The engine's argv with `{placeholders}` (`ENGINE_COMMAND`, a JSON array).
    pub engine_command: Vec<String>,
    /// Per-run working folders live under `WORK_DIR` (default `/tmp/tradai`).
    pub work_dir: PathBuf,
    /// The merged config (`CONFIG_PATH`, `s3://bucket/key` or a local path), if given.
    pub config_path: Option<String>,
    /// Where the candles are (`MARKET_DATA_S3_URI`); without it the engine's data folder is left as it is.
    pub market_data: Option<tradai::market_data::DataLocation>,
    /// The exchange whose candles the run needs (`EXCHANGE`, default `binance`).
    pub exchange: String,
    /// True when the workflow writes the final status (`LAUNCHED_BY=workflow`); otherwise the entrypoint does.
    pub workflow_managed: bool,
    /// `TRADING_MODE=hyperopt` only: how to search.
    pub hyperopt: HyperoptSettings,
    /// `CONFIG_OVERRIDES`: a JSON object merged over the strategy's base config when the entrypoint prepares the
    /// config itself (launched directly, without `CONFIG_PATH`).
    pub config_overrides: serde_json::Value,
}

/// How a hyperopt run searches: `HYPEROPT_EPOCHS` (default 100), `HYPEROPT_LOSS` (default `SharpeHyperOptLoss`)
/// and `HYPEROPT_RANDOM_STATE` (default: derived from the run id, so a repeated run searches the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperoptSettings {
    pub epochs: u32,
    pub loss: String,
    pub random_state: u32,
}

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

fn error(name: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        name,
        problem: problem.into(),
    }
}

impl EntrypointSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).ok_or_else(|| error(name, "required"));
        let seconds = |name: &'static str, default: u64| -> Result<Duration, SettingsError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|value| *value > 0.0 && value.is_finite())
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| error(name, format!("{text:?} is not a positive number of seconds"))),
            }
        };
        let run_id = required("RUN_ID")?
            .parse()
            .map_err(|e: tradai::backtest::InvalidRunId| error("RUN_ID", e.to_string()))?;
        let trading_mode = get("TRADING_MODE").unwrap_or_else(|| "backtest".to_owned());
        if !matches!(trading_mode.as_str(), "backtest" | "hyperopt") {
            return Err(error(
                "TRADING_MODE",
                format!("{trading_mode:?} is not supported yet; use backtest or hyperopt"),
            ));
        }
        let default_engine = if trading_mode == "hyperopt" {
            crate::hyperopt::DEFAULT_HYPEROPT_ENGINE
        } else {
            DEFAULT_ENGINE
        };
        let engine_command = match get("ENGINE_COMMAND") {
            None => default_engine.iter().map(|part| (*part).to_owned()).collect(),
            Some(text) => serde_json::from_str::<Vec<String>>(&text)
                .ok()
                .filter(|argv| !argv.is_empty())
                .ok_or_else(|| error("ENGINE_COMMAND", "must be a non-empty JSON array of strings"))?,
        };
        let strategy = required("STRATEGY")?;
        let positive = |name: &'static str, default: u32| -> Result<u32, SettingsError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|value| *value > 0)
                    .ok_or_else(|| error(name, format!("{text:?} is not a positive whole number"))),
            }
        };
        let run_id: RunId = run_id;
        // FNV-1a of the run id; Freqtrade takes 0 for "draw one", so a run's own state is never 0.
        let derived_state = run_id.to_string().bytes().fold(2_166_136_261_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(16_777_619)
        }) % 1_000_000_000
            + 1;
        let hyperopt = HyperoptSettings {
            epochs: positive("HYPEROPT_EPOCHS", 100)?,
            loss: get("HYPEROPT_LOSS").unwrap_or_else(|| "SharpeHyperOptLoss".to_owned()),
            random_state: positive("HYPEROPT_RANDOM_STATE", derived_state)?,
        };
        if !hyperopt.loss.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(error(
                "HYPEROPT_LOSS",
                format!("{:?} is not a loss class name", hyperopt.loss),
            ));
        }
        Ok(Self {
            run_id,
            trading_mode,
            strategy_version: get("STRATEGY_VERSION").unwrap_or_else(|| "unknown".to_owned()),
            experiment_name: get("EXPERIMENT_NAME").unwrap_or_else(|| format!("backtests/{strategy}")),
            results_bucket: get("S3_RESULTS_BUCKET"),
            strategy,
            timeframe: required("TIMEFRAME")?,
            timerange: required("TIMERANGE")?,
            pairs: required("PAIRS")?
                .split(',')
                .map(|pair| pair.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            workflow_table: get("WORKFLOW_STATE_TABLE")
                .or_else(|| get("DYNAMODB_TABLE"))
                .unwrap_or_else(|| tradai::settings::DEFAULT_WORKFLOW_TABLE.to_owned()),
            mlflow_tracking_uri: get("MLFLOW_TRACKING_URI"),
            mlflow_wait: seconds("MLFLOW_WAIT_SECONDS", 120)?,
            heartbeat: seconds("HEARTBEAT_SECONDS", 120)?,
            stop_grace: seconds("STOP_GRACE_SECONDS", 60)?,
            engine_command,
            work_dir: PathBuf::from(get("WORK_DIR").unwrap_or_else(|| "/tmp/tradai".to_owned())),
            config_path: get("CONFIG_PATH"),
            market_data: get("MARKET_DATA_S3_URI")
                .map(|uri| {
                    tradai::market_data::DataLocation::parse(&uri)
                        .map_err(|problem| error("MARKET_DATA_S3_URI", problem))
                })
                .transpose()?,
            exchange: get("EXCHANGE").unwrap_or_else(|| "binance".to_owned()),
            workflow_managed: get("LAUNCHED_BY").is_some_and(|by| by == "workflow"),
            hyperopt,
            config_overrides: match get("CONFIG_OVERRIDES") {
                None => serde_json::Value::Object(serde_json::Map::new()),
                Some(text) => serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .filter(serde_json::Value::is_object)
                    .ok_or_else(|| error("CONFIG_OVERRIDES", "must be a JSON object"))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = [
            ("RUN_ID", "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10"),
            ("STRATEGY", "EmaCross"),
            ("TIMEFRAME", "5m"),
            ("TIMERANGE", "20240101-20240301"),
            ("PAIRS", "BTC/USDT,ETH/USDT"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    #[test]
    fn the_seed_environment_is_enough() {
        let settings = EntrypointSettings::from_map(&vars(&[("DYNAMODB_TABLE", "jobs")])).expect("valid");
        assert_eq!(settings.pairs, ["BTC/USDT", "ETH/USDT"]);
        assert_eq!(settings.workflow_table, "jobs");
        assert_eq!(settings.engine_command[0..2], ["freqtrade", "backtesting"]);
        assert!(!settings.workflow_managed);
    }

    #[test]
    fn hyperopt_runs_its_own_command_with_a_state_of_the_run() {
        let settings = EntrypointSettings::from_map(&vars(&[("TRADING_MODE", "hyperopt")])).expect("valid");
        assert_eq!(settings.engine_command[0..2], ["freqtrade", "hyperopt"]);
        assert_eq!(settings.hyperopt.epochs, 100);
        assert_eq!(settings.hyperopt.loss, "SharpeHyperOptLoss");
        let again = EntrypointSettings::from_map(&vars(&[("TRADING_MODE", "hyperopt")])).expect("valid");
        assert_eq!(
            settings.hyperopt.random_state, again.hyperopt.random_state,
            "the same run searches alike"
        );
        assert!(settings.hyperopt.random_state > 0);
    }

    #[test]
    fn malformed_variables_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("RUN_ID", "x")], "RUN_ID"),
            (&[("TRADING_MODE", "live")], "TRADING_MODE"),
            (&[("ENGINE_COMMAND", "freqtrade backtesting")], "ENGINE_COMMAND"),
            (&[("HEARTBEAT_SECONDS", "-1")], "HEARTBEAT_SECONDS"),
            (&[("HYPEROPT_EPOCHS", "0")], "HYPEROPT_EPOCHS"),
            (&[("CONFIG_OVERRIDES", "[1]")], "CONFIG_OVERRIDES"),
            (&[("HYPEROPT_LOSS", "x; rm -rf /")], "HYPEROPT_LOSS"),
        ];
        for (extra, name) in cases {
            assert_eq!(
                EntrypointSettings::from_map(&vars(extra)).expect_err("rejected").name,
                *name
            );
        }
        let mut missing = vars(&[]);
        missing.remove("STRATEGY");
        assert_eq!(
            EntrypointSettings::from_map(&missing).expect_err("rejected").name,
            "STRATEGY"
        );
    }
}
