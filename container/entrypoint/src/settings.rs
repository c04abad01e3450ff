//! The container's environment, read once at start: `TRADING_MODE` decides what the container is — a run of one
//! job (backtest, hyperopt) or a trading bot (dry run, live) — and each reads exactly what it needs.

use std::path::PathBuf;
use std::time::Duration;

use tradai::backtest::{RunId, Symbol, Timeframe};
use tradai::market_data::DataLocation;
use tradai::mlflow::MlflowOptions;
use tradai::settings::{AwsSettings, Env, SettingsError};

use crate::trade::TradeSettings;

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
    "--strategy-path",
    "{strategy_path}",
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

/// What the container is, by `TRADING_MODE`.
#[derive(Debug, Clone)]
pub enum Container {
    /// `backtest` (the default) or `hyperopt`: one job, run to its end.
    Run(Box<EntrypointSettings>),
    /// `dry_run` or `live`: a trading bot, until it is stopped.
    Trade(Box<TradeSettings>),
}

impl Container {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        match env.optional("TRADING_MODE").as_deref() {
            Some("live" | "dry_run") => Ok(Container::Trade(Box::new(TradeSettings::from_env(env)?))),
            _ => Ok(Container::Run(Box::new(EntrypointSettings::from_env(env)?))),
        }
    }
}

/// What a run does with the engine (`TRADING_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    Backtest,
    Hyperopt(HyperoptSettings),
}

impl RunMode {
    /// The mode's name, as `TRADING_MODE` spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunMode::Backtest => "backtest",
            RunMode::Hyperopt(_) => "hyperopt",
        }
    }
}

/// How a hyperopt run searches: `HYPEROPT_EPOCHS` (default 100), `HYPEROPT_LOSS` (default `SharpeHyperOptLoss`)
/// and `HYPEROPT_RANDOM_STATE` (default: derived from the run id, so a repeated run searches the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperoptSettings {
    pub epochs: u32,
    pub loss: String,
    pub random_state: u32,
}

/// What a run of one job reads, once at start.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrypointSettings {
    pub run_id: RunId,
    pub mode: RunMode,
    pub strategy: String,
    /// `STRATEGY_VERSION`: the registered version (or alias) the run belongs to.
    pub strategy_version: String,
    /// `EXPERIMENT_NAME`: the MLflow experiment (default `backtests/{STRATEGY}`).
    pub experiment_name: String,
    /// `S3_RESULTS_BUCKET`: where the raw result goes, under `results/{run_id}/`.
    pub results_bucket: Option<String>,
    pub timeframe: Timeframe,
    pub timerange: String,
    pub pairs: Vec<Symbol>,
    /// `WORKFLOW_STATE_TABLE` (or the original design's `DYNAMODB_TABLE`).
    pub workflow_table: String,
    /// `MLFLOW_TRACKING_URI` and its credentials, when the run is tracked.
    pub mlflow: Option<MlflowOptions>,
    /// How long to wait for MLflow before giving up (`MLFLOW_WAIT_SECONDS`, default 120).
    pub mlflow_wait: Duration,
    /// How often `updated_at` is refreshed while the engine runs (`HEARTBEAT_SECONDS`, default 120).
    pub heartbeat: Duration,
    /// How long the engine has to stop after SIGTERM before it is killed (`STOP_GRACE_SECONDS`, default 60: well
    /// within ECS's 120 s stop timeout). Claiming, publishing and recording get as long to finish after SIGTERM.
    pub stop_grace: Duration,
    /// How long the writes that end a run keep being tried while the job table is unavailable
    /// (`RECORD_RETRY_SECONDS`, default 300).
    pub record_retry: Duration,
    /// The engine's argv with `{placeholders}` (`ENGINE_COMMAND`, a JSON array); by default the mode's Freqtrade
    /// command, started by `ENGINE_LAUNCHER` (a JSON array, default `["freqtrade"]`) in place of `freqtrade`.
    pub engine_command: Vec<String>,
    /// Per-run working folders live under `WORK_DIR` (default `/tmp/tradai`).
    pub work_dir: PathBuf,
    /// The merged config (`CONFIG_PATH`, `s3://bucket/key` or a local path), if given.
    pub config_path: Option<String>,
    /// Where the candles are (`MARKET_DATA_S3_URI`); without it the engine's data folder is left as it is.
    pub market_data: Option<DataLocation>,
    /// The run's manifest (`RUN_MANIFEST`, `s3://bucket/key`), written by PrepareConfig: the candle files and the
    /// markets snapshot are read at the object versions it pins, and checked against its hashes.
    pub run_manifest: Option<String>,
    /// The engine the image carries (`ENGINE_VERSION`, `freqtrade-2026.9`), recorded in the manifest.
    pub engine_version: Option<String>,
    /// The exchange whose candles the run needs (`EXCHANGE`, default `binance`).
    pub exchange: String,
    /// True when the workflow writes the final status (`LAUNCHED_BY=workflow`); otherwise the entrypoint does.
    pub workflow_managed: bool,
    /// `CONFIG_OVERRIDES`: a JSON object merged over the strategy's base config when the entrypoint prepares the
    /// config itself (launched directly, without `CONFIG_PATH`).
    pub config_overrides: serde_json::Value,
    /// `STRATEGY_PATH`: the image's strategy folder (default `/freqtrade/user_data/strategies`, where a strategy
    /// image built on ours puts its code).
    pub strategy_path: PathBuf,
    /// `STRATEGY_PARAMETERS`: the run's strategy parameters by space (`{"buy": {"buy_rsi": 30}}`), written to the
    /// parameter file beside a copy of the strategy.
    pub strategy_parameters: Option<serde_json::Map<String, serde_json::Value>>,
    pub aws: AwsSettings,
}

/// MLflow as the container uses it: a result artifact is megabytes, not a registry lookup, so each attempt may take
/// two minutes and a failure is tried twice more; the breaker never opens on the one run this process owns.
fn for_artifacts(mut options: MlflowOptions) -> MlflowOptions {
    options.request_timeout = Duration::from_secs(120);
    options.connect_timeout = Duration::from_secs(5);
    options.attempts = 3;
    options.breaker_threshold = u32::MAX;
    options
}

/// A positive number of seconds.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|value| *value > 0.0 && value.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a positive number of seconds"))
}

/// A non-empty JSON array of strings: an argv.
pub(crate) fn argv(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(text)
        .ok()
        .filter(|argv| !argv.is_empty())
        .ok_or_else(|| "must be a non-empty JSON array of strings".to_owned())
}

/// Where a strategy image keeps the strategy's code when `STRATEGY_PATH` does not say.
pub const DEFAULT_STRATEGY_PATH: &str = "/freqtrade/user_data/strategies";

/// A JSON object of spaces, each an object of parameter values.
fn spaces(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(spaces)) if spaces.values().all(serde_json::Value::is_object) => Ok(spaces),
        _ => Err("must be a JSON object of spaces, each an object of parameter values".to_owned()),
    }
}

/// A JSON object.
pub(crate) fn json_object(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| "must be a JSON object".to_owned())
}

fn positive(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|value| *value > 0)
        .ok_or_else(|| format!("{text:?} is not a positive whole number"))
}

impl EntrypointSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let run_id: RunId = env
            .required("RUN_ID")?
            .parse()
            .map_err(|error: tradai::backtest::InvalidRunId| SettingsError::new("RUN_ID", error.to_string()))?;
        let mode = match env.optional("TRADING_MODE").as_deref() {
            None | Some("backtest") => RunMode::Backtest,
            Some("hyperopt") => RunMode::Hyperopt(HyperoptSettings::from_env(env, run_id)?),
            Some(other) => {
                return Err(SettingsError::new(
                    "TRADING_MODE",
                    format!("{other:?} is not a run of one job; use backtest or hyperopt"),
                ));
            }
        };
        let default_engine = match mode {
            RunMode::Backtest => DEFAULT_ENGINE,
            RunMode::Hyperopt(_) => crate::hyperopt::DEFAULT_HYPEROPT_ENGINE,
        };
        // ENGINE_LAUNCHER replaces the default command's `freqtrade`: the image's offline launcher (container/Dockerfile).
        let launcher = env.parsed("ENGINE_LAUNCHER", vec!["freqtrade".to_owned()], argv)?;
        let default_engine: Vec<String> = launcher
            .into_iter()
            .chain(default_engine.iter().skip(1).map(|part| (*part).to_owned()))
            .collect();
        let strategy = env.required("STRATEGY")?;
        let timeframe = Timeframe::try_from(env.required("TIMEFRAME")?)
            .map_err(|problem| SettingsError::new("TIMEFRAME", problem))?;
        let pairs = env
            .required("PAIRS")?
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| Symbol::try_from(pair.to_owned()).map_err(|problem| SettingsError::new("PAIRS", problem)))
            .collect::<Result<Vec<_>, _>>()?;
        if pairs.is_empty() {
            return Err(SettingsError::new("PAIRS", "names no pair"));
        }
        let workflow_table = match env.optional("WORKFLOW_STATE_TABLE") {
            Some(_) => env.workflow_table()?,
            None => env.table("DYNAMODB_TABLE", tradai::settings::DEFAULT_WORKFLOW_TABLE)?,
        };
        Ok(Self {
            run_id,
            mode,
            strategy_version: env.optional("STRATEGY_VERSION").unwrap_or_else(|| "unknown".to_owned()),
            experiment_name: env
                .optional("EXPERIMENT_NAME")
                .unwrap_or_else(|| format!("backtests/{strategy}")),
            results_bucket: env.optional_bucket("S3_RESULTS_BUCKET")?,
            strategy,
            timeframe,
            timerange: env.required("TIMERANGE")?,
            pairs,
            workflow_table,
            mlflow: env.optional_mlflow()?.map(for_artifacts),
            mlflow_wait: env.parsed("MLFLOW_WAIT_SECONDS", Duration::from_secs(120), seconds)?,
            heartbeat: env.parsed("HEARTBEAT_SECONDS", Duration::from_secs(120), seconds)?,
            stop_grace: env.parsed("STOP_GRACE_SECONDS", Duration::from_secs(60), seconds)?,
            record_retry: env.parsed("RECORD_RETRY_SECONDS", Duration::from_secs(300), seconds)?,
            engine_command: env.parsed("ENGINE_COMMAND", default_engine, argv)?,
            work_dir: PathBuf::from(env.optional("WORK_DIR").unwrap_or_else(|| "/tmp/tradai".to_owned())),
            config_path: env.optional("CONFIG_PATH"),
            market_data: env.optional_market_data()?,
            run_manifest: env.optional("RUN_MANIFEST"),
            engine_version: env.optional("ENGINE_VERSION"),
            exchange: env.optional("EXCHANGE").unwrap_or_else(|| "binance".to_owned()),
            workflow_managed: env.optional("LAUNCHED_BY").is_some_and(|by| by == "workflow"),
            config_overrides: env.parsed("CONFIG_OVERRIDES", serde_json::json!({}), json_object)?,
            strategy_path: PathBuf::from(
                env.optional("STRATEGY_PATH")
                    .unwrap_or_else(|| DEFAULT_STRATEGY_PATH.to_owned()),
            ),
            strategy_parameters: match env.optional("STRATEGY_PARAMETERS") {
                None => None,
                Some(text) => {
                    Some(spaces(&text).map_err(|problem| SettingsError::new("STRATEGY_PARAMETERS", problem))?)
                }
            },
            aws: env.aws()?,
        })
    }

    /// The hyperopt settings, for a hyperopt run.
    pub fn hyperopt(&self) -> Option<&HyperoptSettings> {
        match &self.mode {
            RunMode::Backtest => None,
            RunMode::Hyperopt(hyperopt) => Some(hyperopt),
        }
    }
}

impl HyperoptSettings {
    fn from_env(env: &Env, run_id: RunId) -> Result<Self, SettingsError> {
        // FNV-1a of the run id; Freqtrade takes 0 for "draw one", so a run's own state is never 0.
        let derived_state = run_id.to_string().bytes().fold(2_166_136_261_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(16_777_619)
        }) % 1_000_000_000
            + 1;
        let loss = env
            .optional("HYPEROPT_LOSS")
            .unwrap_or_else(|| "SharpeHyperOptLoss".to_owned());
        if !loss.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(SettingsError::new(
                "HYPEROPT_LOSS",
                format!("{loss:?} is not a loss class name"),
            ));
        }
        Ok(Self {
            epochs: env.parsed("HYPEROPT_EPOCHS", 100, positive)?,
            loss,
            random_state: env.parsed("HYPEROPT_RANDOM_STATE", derived_state, positive)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = [
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

    fn settings(vars: Vec<(String, String)>) -> Result<EntrypointSettings, SettingsError> {
        EntrypointSettings::from_env(&Env::from_vars(vars))
    }

    #[test]
    fn the_seed_environment_is_enough() {
        let settings = settings(vars(&[("DYNAMODB_TABLE", "jobs")])).expect("valid");
        assert_eq!(settings.pairs, ["BTC/USDT", "ETH/USDT"]);
        assert_eq!(settings.workflow_table, "jobs");
        assert_eq!(settings.engine_command[0..2], ["freqtrade", "backtesting"]);
        assert!(!settings.workflow_managed);
        assert_eq!(settings.strategy_path, PathBuf::from(DEFAULT_STRATEGY_PATH));
        assert_eq!(settings.strategy_parameters, None);
    }

    #[test]
    fn the_launcher_starts_both_default_commands_and_an_engine_command_replaces_them() {
        let launcher = ("ENGINE_LAUNCHER", r#"["python", "/opt/tradai/freqtrade_offline.py"]"#);
        for (mode, subcommand) in [("backtest", "backtesting"), ("hyperopt", "hyperopt")] {
            let settings = settings(vars(&[launcher, ("TRADING_MODE", mode)])).expect("valid");
            assert_eq!(
                settings.engine_command[0..3],
                ["python", "/opt/tradai/freqtrade_offline.py", subcommand],
                "{mode}"
            );
        }
        let settings = settings(vars(&[launcher, ("ENGINE_COMMAND", r#"["true"]"#)])).expect("valid");
        assert_eq!(settings.engine_command, ["true"]);
    }

    #[test]
    fn hyperopt_runs_its_own_command_with_a_state_of_the_run() {
        let settings = settings(vars(&[("TRADING_MODE", "hyperopt")])).expect("valid");
        assert_eq!(settings.engine_command[0..2], ["freqtrade", "hyperopt"]);
        let hyperopt = settings.hyperopt().expect("a hyperopt run");
        assert_eq!(hyperopt.epochs, 100);
        assert_eq!(hyperopt.loss, "SharpeHyperOptLoss");
        let again =
            EntrypointSettings::from_env(&Env::from_vars(vars(&[("TRADING_MODE", "hyperopt")]))).expect("valid");
        assert_eq!(
            hyperopt.random_state,
            again.hyperopt().expect("hyperopt").random_state,
            "the same run searches alike"
        );
        assert!(hyperopt.random_state > 0);
    }

    #[test]
    fn malformed_variables_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("RUN_ID", "x")], "RUN_ID"),
            (&[("TRADING_MODE", "live")], "TRADING_MODE"),
            (&[("ENGINE_COMMAND", "freqtrade backtesting")], "ENGINE_COMMAND"),
            (&[("ENGINE_LAUNCHER", "[]")], "ENGINE_LAUNCHER"),
            (&[("HEARTBEAT_SECONDS", "-1")], "HEARTBEAT_SECONDS"),
            (
                &[("TRADING_MODE", "hyperopt"), ("HYPEROPT_EPOCHS", "0")],
                "HYPEROPT_EPOCHS",
            ),
            (&[("CONFIG_OVERRIDES", "[1]")], "CONFIG_OVERRIDES"),
            (&[("STRATEGY_PARAMETERS", r#"{"buy_rsi": 30}"#)], "STRATEGY_PARAMETERS"),
            (
                &[("TRADING_MODE", "hyperopt"), ("HYPEROPT_LOSS", "x; rm -rf /")],
                "HYPEROPT_LOSS",
            ),
            (&[("TIMEFRAME", "7m")], "TIMEFRAME"),
            (&[("PAIRS", "BTC/USDT,not a pair")], "PAIRS"),
        ];
        for (extra, name) in cases {
            assert_eq!(settings(vars(extra)).expect_err("rejected").name, *name);
        }
        let missing: Vec<(String, String)> = vars(&[]).into_iter().filter(|(k, _)| k != "STRATEGY").collect();
        assert_eq!(settings(missing).expect_err("rejected").name, "STRATEGY");
    }

    #[test]
    fn the_mode_decides_what_the_container_is() {
        let env = Env::from_vars([("TRADING_MODE", "dry_run"), ("STRATEGY_NAME", "EmaCross")]);
        assert!(matches!(Container::from_env(&env), Err(error) if error.name == "MLFLOW_TRACKING_URI"));
        let env = Env::from_vars(vars(&[]));
        assert!(matches!(Container::from_env(&env), Ok(Container::Run(_))));
    }
}
