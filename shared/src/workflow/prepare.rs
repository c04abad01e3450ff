//! PrepareConfig (the original design's §4): the strategy's base config, the run's `config_overrides` merged over
//! it, then what the run fixes and no override may change: the pairs, the timeframe, the data format our market
//! data is kept in, and the run's identity (run id, experiment, the pinned version). The merged config is written
//! to `temp/{run_id}/config.yaml` (as JSON, which YAML readers and Freqtrade both read).
//!
//! The step then plans the run's manifest (`tradai::run_manifest`): the image digest ValidateStrategy resolved, the
//! config, and each candle file and the markets snapshot by object version and content hash, written to
//! `results/{run_id}/manifest.json` and its fingerprint to the job. A job whose inputs a COMPLETED run already had
//! is answered from that run (`cached_from`, no engine run) unless it asked for `no_cache`; otherwise the step
//! answers what RunBacktest needs: the task definition, the image, and the container's complete environment, which
//! names the manifest so the container reads exactly the object versions it pins.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cache::{CachedAnswer, answer_from_cache};
use super::freshness::CheckedVersions;
use super::validate::ValidatedStrategy;
use super::{ErrorType, StepError};
use crate::backtest::{BacktestJob, RunId, Status, StrategyVersion};
use crate::config::deep_merge;
use crate::executor::{ContainerContext, container_environment};
use crate::market_data::DataLocation;
use crate::objects::{ObjectStore, s3_object};
use crate::run_manifest::plan::{PinError, identify, pin_market_data, planned_config};
use crate::run_manifest::{
    ConfigPin, Fingerprint, ManifestError, RunManifest, StrategyPin, manifest_key, read_manifest,
};
use crate::store::{RecordUpdate, WorkflowStore};
use crate::sweep::{Combination, Parameter, StrategyParameters, apply_combination};

/// What the step reads: the job, and the strategy version ValidateStrategy pinned.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ValidatedJob {
    #[serde(flatten)]
    pub job: BacktestJob,
    pub strategy: ValidatedStrategy,
    /// The versions CheckDataFreshness checked: the run is planned on them (none for a re-run, which reads its
    /// original's pins).
    #[serde(default)]
    pub data_freshness: Option<CheckedVersions>,
}

/// What RunBacktest runs (`$.prepared`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedRun {
    /// The merged config, `s3://{configs bucket}/temp/{run_id}/config.yaml`.
    pub config_path: String,
    pub ecr_url: String,
    pub strategy_name: String,
    pub strategy_version: u32,
    pub experiment_name: String,
    pub exchange: String,
    /// The task definition to run: the revision registered with the pinned version (`strategy-EmaCross:3`), or
    /// the family (its latest revision) for a version registered before revisions were pinned.
    pub task_definition: String,
    /// The container's environment, in the form of ECS container overrides.
    pub environment: Vec<ContainerVariable>,
    /// The run's manifest, `s3://{results bucket}/results/{run_id}/manifest.json`.
    pub manifest_path: String,
    /// The fingerprint of the run's inputs.
    pub fingerprint: Fingerprint,
    /// The earlier run with the same inputs that answered the job: there is nothing left to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<RunId>,
}

/// One variable of a container override, as ECS spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerVariable {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// What the step adds to the state.
#[derive(Debug, Serialize)]
pub struct Prepared {
    pub prepared: PreparedRun,
    /// The summary of the run that answered the job from the cache, for NotifyCompletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
}

/// Where the step reads and writes.
pub struct PrepareDeps<'a, O, W> {
    /// The configs bucket: merged run configs (and, through it, the buckets base configs and market data are in).
    pub configs: &'a O,
    /// The results bucket: the run's manifest.
    pub results: &'a O,
    /// The job table: a hyperopt's best parameters, the fingerprint, the result cache.
    pub jobs: &'a W,
    /// What strategy containers are told.
    pub context: &'a ContainerContext,
    /// The task definition family is this prefix and the strategy name.
    pub task_prefix: &'a str,
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[
    ErrorType::MissingImage,
    ErrorType::MissingConfig,
    ErrorType::InvalidConfig,
    ErrorType::StaleMarketData,
    ErrorType::JobEnded,
    ErrorType::InvalidInput,
    ErrorType::TransientDependency,
];

/// Merges the run's config from its base in S3 and writes it to the configs bucket, plans and writes the run's
/// manifest, and answers the job from the cache or says what to run; containers get `context` and run task
/// definition `{task_prefix}{strategy}`.
pub async fn prepare_config<O: ObjectStore, W: WorkflowStore>(
    deps: &PrepareDeps<'_, O, W>,
    validated: &ValidatedJob,
) -> Result<Prepared, StepError> {
    let strategy = &validated.strategy;
    let task_definition = pinned_task_definition(deps.task_prefix, &validated.job.request.strategy_name, strategy)?;
    let (job, config, manifest) = run_inputs(deps, validated).await?;
    let exchange = exchange_of(&config);
    let config_path = write_json(deps.configs, &run_config_key(&job), &config, "the merged config").await?;
    tracing::info!(run_id = %job.run_id, %config_path, version = strategy.version, "run config prepared");
    let manifest_path = write_json(deps.results, &manifest_key(job.run_id), &manifest, "the run's manifest").await?;
    let fingerprint = manifest.fingerprint();
    let cached = answer_or_note(deps.jobs, &job, &fingerprint).await?;
    tracing::info!(run_id = %job.run_id, %fingerprint, files = manifest.data.len(),
        cached_from = ?cached.as_ref().map(|answer| answer.from), "run manifest planned");
    // The container is told what the manifest pins: its parameter file too (a re-run's are its original's).
    let mut environment: Vec<ContainerVariable> =
        workflow_environment(&job, deps.context, strategy.version, &config_path, &exchange)
            .into_iter()
            .filter(|variable| variable.name != "STRATEGY_PARAMETERS")
            .collect();
    let pinned = [
        (
            "STRATEGY_PARAMETERS",
            manifest.parameters.as_ref().map(Value::to_string),
        ),
        ("RUN_MANIFEST", Some(manifest_path.clone())),
    ];
    environment.extend(pinned.into_iter().filter_map(|(name, value)| {
        value.map(|value| ContainerVariable {
            name: name.to_owned(),
            value,
        })
    }));
    let request = &job.request;
    Ok(Prepared {
        prepared: PreparedRun {
            environment,
            config_path,
            ecr_url: strategy.ecr_url.clone(),
            strategy_name: request.strategy_name.clone(),
            strategy_version: strategy.version,
            experiment_name: request.experiment_name.clone(),
            exchange,
            task_definition,
            manifest_path,
            fingerprint,
            cached_from: cached.as_ref().map(|answer| answer.from),
        },
        summary: cached.and_then(|answer| answer.summary),
    })
}

/// The run's job (with a hyperopt's found parameters applied), its engine config and its manifest: a re-run's are
/// its original's; any other run's are planned now.
async fn run_inputs<O: ObjectStore, W: WorkflowStore>(
    deps: &PrepareDeps<'_, O, W>,
    validated: &ValidatedJob,
) -> Result<(BacktestJob, Value, RunManifest), StepError> {
    let strategy = &validated.strategy;
    let mut job = validated.job.clone();
    if let Some(original) = job.request.config.rerun_of {
        // Boxed: the S3 client's futures nested this deep overflow the compiler's layout query depth.
        let (config, manifest) = Box::pin(rerun_inputs(deps.results, &job, strategy, original)).await?;
        return Ok((job, config, manifest));
    }
    if let Some(from) = job.request.config.parameters_from {
        let found = found_parameters(deps.jobs, job.run_id, from).await?;
        tracing::info!(run_id = %job.run_id, %from, parameters = found.len(), "parameters taken from the hyperopt run");
        apply_combination(&mut job.request, &found);
    }
    let base = base_config(deps.configs, strategy).await?;
    let config = run_config(base, &job, strategy.version);
    let checked = validated.data_freshness.clone().unwrap_or_default();
    let manifest = plan_manifest(deps, &job, strategy, &config, &checked).await?;
    Ok((job, config, manifest))
}

/// Writes `value` as pretty JSON at `key` of `store` (`what` it is names a failure); answers its `s3://` URI.
async fn write_json(
    store: &impl ObjectStore,
    key: &str,
    value: &impl Serialize,
    what: &str,
) -> Result<String, StepError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|error| StepError::invalid_state(format!("{what} cannot be written"), error))?;
    store
        .put(key, bytes)
        .await
        .map_err(|error| StepError::transient(format!("writing {what}"), error))?;
    Ok(format!("s3://{}/{key}", store.bucket()))
}

/// Answers `job` from an earlier run of inputs `fingerprint` when it may be (not `no_cache`, not a hyperopt) and
/// one COMPLETED; otherwise notes the fingerprint on the job, whose engine will run.
async fn answer_or_note(
    jobs: &impl WorkflowStore,
    job: &BacktestJob,
    fingerprint: &Fingerprint,
) -> Result<Option<CachedAnswer>, StepError> {
    let config = &job.request.config;
    if !config.no_cache
        && config.hyperopt.is_none()
        && let Some(answer) = answer_from_cache(jobs, job.run_id, fingerprint).await?
    {
        return Ok(Some(answer));
    }
    let noted = RecordUpdate {
        fingerprint: Some(fingerprint.clone()),
        ..RecordUpdate::default()
    };
    jobs.annotate(job.run_id, &noted)
        .await
        .map_err(|error| StepError::transient("the workflow store", error))?;
    Ok(None)
}

/// The strategy's base config that ValidateStrategy found (`config_path`).
async fn base_config(configs: &impl ObjectStore, strategy: &ValidatedStrategy) -> Result<Value, StepError> {
    let base_uri = &strategy.config_path;
    let (bucket, key) = s3_object(base_uri)
        .ok_or_else(|| StepError::MissingConfig(format!("config_path {base_uri} is not an s3:// URI")))?;
    let bytes = configs
        .in_bucket(bucket)
        .get(key)
        .await
        .map_err(|error| StepError::transient("reading the base config", error))?
        .ok_or_else(|| StepError::MissingConfig(format!("the config {base_uri} does not exist")))?;
    crate::config::parse_document(&bytes).map_err(|error| StepError::InvalidConfig {
        uri: base_uri.clone(),
        source: Box::new(error),
    })
}

/// A re-run's config and manifest: run `original`'s, read from `results`, with `job`'s own identity in the config.
/// The version and the digest must be the original's: a re-run never runs other code.
async fn rerun_inputs(
    results: &impl ObjectStore,
    job: &BacktestJob,
    strategy: &ValidatedStrategy,
    original: RunId,
) -> Result<(Value, RunManifest), StepError> {
    let reruns = format!("run {} re-runs run {original}", job.run_id);
    let pinned = read_manifest(results, original)
        .await
        .map_err(|error| match error {
            ManifestError::Unreachable(source) => StepError::transient("reading the original's manifest", source),
            malformed @ ManifestError::Malformed { .. } => StepError::invalid_state(reruns.clone(), malformed),
        })?
        .ok_or_else(|| StepError::invalid_input(format!("{reruns}, which has no manifest")))?;
    let name = &pinned.strategy.name;
    if strategy.version != pinned.strategy.version {
        return Err(StepError::invalid_input(format!(
            "{reruns}, which ran {name} version {}, not {}",
            pinned.strategy.version, strategy.version
        )));
    }
    if strategy.image_digest.as_deref() != Some(pinned.strategy.digest.as_str()) {
        return Err(StepError::MissingImage(format!(
            "{reruns}, which ran {name} version {} at {}; the version runs {} now",
            pinned.strategy.version,
            pinned.strategy.digest,
            strategy.image_digest.as_deref().unwrap_or("an unresolved image")
        )));
    }
    let mut config = pinned.config.document.clone();
    identify(&mut config, job.run_id, &job.request.experiment_name);
    tracing::info!(run_id = %job.run_id, %original, files = pinned.data.len(), "re-running the original's inputs");
    Ok((
        config,
        RunManifest {
            observed: None,
            ..pinned
        },
    ))
}

/// The manifest of `job`'s run: `strategy` by the digest ValidateStrategy resolved, the merged `config` without
/// what names the run, and the market data on the config's exchange pinned at the versions `checked` (as it is
/// now where none was checked; none at all when the container is told of no market data), the hashes of versions
/// seen before read from the results bucket's memo.
async fn plan_manifest<O: ObjectStore, W: WorkflowStore>(
    deps: &PrepareDeps<'_, O, W>,
    job: &BacktestJob,
    strategy: &ValidatedStrategy,
    config: &Value,
    checked: &CheckedVersions,
) -> Result<RunManifest, StepError> {
    let PrepareDeps {
        configs,
        results,
        context,
        ..
    } = *deps;
    let request = &job.request;
    let exchange = exchange_of(config);
    let exchange = exchange.as_str();
    let digest = strategy.image_digest.clone().ok_or_else(|| {
        StepError::invalid_input(format!(
            "the image {} was not resolved to a digest by ValidateStrategy",
            strategy.ecr_url
        ))
    })?;
    let (data, markets) = match context.market_data_uri.as_deref() {
        Some(uri) => {
            let location = DataLocation::parse(uri)
                .map_err(|problem| StepError::invalid_input(format!("MARKET_DATA_S3_URI {uri}: {problem}")))?;
            let store = configs.in_bucket(&location.bucket);
            let config = &request.config;
            let query = (&config.symbols[..], config.timeframe);
            pin_market_data(&store, results, &location, exchange, query, &checked.by_key(&location))
                .await
                .map_err(|error| match error {
                    PinError::Missing { .. } => StepError::StaleMarketData(error.to_string()),
                    PinError::Unreadable(source) => StepError::transient("hashing the market data", source),
                })?
        }
        None => (Vec::new(), None),
    };
    let config_of = &request.config;
    Ok(RunManifest {
        strategy: StrategyPin {
            name: request.strategy_name.clone(),
            version: strategy.version,
            image: strategy.ecr_url.clone(),
            digest,
        },
        config: ConfigPin::new(planned_config(config)),
        data,
        markets,
        timerange: config_of.timerange(),
        pairs: config_of
            .symbols
            .iter()
            .map(|symbol| symbol.as_str().to_owned())
            .collect(),
        timeframe: config_of.timeframe.to_string(),
        parameters: StrategyParameters::new(&request.strategy_name, &config_of.parameters)
            .file
            .map(|file| file["params"].clone()),
        hyperopt: config_of.hyperopt.clone(),
        observed: None,
    }
    .sorted())
}

/// The best parameters that the hyperopt of run `from` found, for run `run_id` that takes them: `from` must have
/// COMPLETED as a hyperopt (its recorded result's `params`, named `<space>.<name>`).
async fn found_parameters(jobs: &impl WorkflowStore, run_id: RunId, from: RunId) -> Result<Combination, StepError> {
    let takes = format!("run {run_id} takes its parameters from run {from}");
    let record = jobs
        .get(from)
        .await
        .map_err(|error| StepError::transient("the workflow store", error))?
        .ok_or_else(|| StepError::invalid_input(format!("{takes}, which does not exist")))?;
    if record.status != Status::Completed {
        return Err(StepError::invalid_input(format!(
            "{takes}, which is {}, not COMPLETED",
            record.status
        )));
    }
    let params = record
        .result
        .as_ref()
        .filter(|result| result["mode"] == "hyperopt")
        .and_then(|result| result["params"].as_object())
        .ok_or_else(|| {
            StepError::invalid_input(format!("{takes}, whose result holds no hyperopt's best parameters"))
        })?;
    params
        .iter()
        .map(|(name, value)| {
            Parameter::from_hyperopt(name)
                .map(|parameter| (parameter, value.clone()))
                .map_err(|problem| StepError::invalid_input(format!("{takes}: {problem}")))
        })
        .collect()
}

/// The task definition the run starts: the revision POST /strategies registered for the pinned version (its
/// `task_definition` tag), so the image that runs is the image ValidateStrategy found. A version registered
/// without the tag runs the family `{prefix}{strategy}` (its latest revision); a tag naming another family or no
/// revision is refused, since RunTask would start something other than this strategy.
fn pinned_task_definition(prefix: &str, strategy: &str, validated: &ValidatedStrategy) -> Result<String, StepError> {
    let family = format!("{prefix}{strategy}");
    let Some(tagged) = validated.tags.get("task_definition") else {
        tracing::warn!(%family, version = validated.version, "the version pins no task definition revision");
        return Ok(family);
    };
    match tagged.split_once(':') {
        Some((named, revision))
            if named == family && !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(tagged.clone())
        }
        _ => Err(StepError::MissingImage(format!(
            "strategy {strategy} version {} pins task definition {tagged:?}, not a revision of {family}",
            validated.version
        ))),
    }
}

/// Where a run's merged config is kept in the configs bucket (removed by CleanupResources).
pub fn run_config_key(job: &BacktestJob) -> String {
    format!("temp/{}/config.yaml", job.run_id)
}

/// The exchange a config trades on when it does not say (the market data's default too).
pub const DEFAULT_EXCHANGE: &str = "binance";

/// What a run fixes in its engine config, whatever the base config or the overrides say.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFields<'a> {
    pub run_id: RunId,
    pub pairs: Vec<&'a str>,
    pub timeframe: &'a str,
    pub experiment_name: &'a str,
    pub strategy_name: &'a str,
    /// The number the requested version or alias was pinned to.
    pub strategy_version: u32,
}

/// The run's engine config: `base` with `overrides` merged over it and the run's own fields set last.
pub fn merged_config(mut base: Value, overrides: &Value, run: &RunFields<'_>) -> Value {
    deep_merge(&mut base, overrides);
    deep_merge(
        &mut base,
        &json!({
            "exchange": {"pair_whitelist": run.pairs},
            "timeframe": run.timeframe,
            "dataformat_ohlcv": "parquet",
            "strategy_name": run.strategy_name,
            "strategy_version": run.strategy_version,
        }),
    );
    identify(&mut base, run.run_id, run.experiment_name);
    base
}

/// [`merged_config`] for `job`, its version pinned to `version`.
pub fn run_config(base: Value, job: &BacktestJob, version: u32) -> Value {
    let request = &job.request;
    let run = RunFields {
        run_id: job.run_id,
        pairs: request.config.symbols.iter().map(|s| s.as_str()).collect(),
        timeframe: request.config.timeframe.as_str(),
        experiment_name: &request.experiment_name,
        strategy_name: &request.strategy_name,
        strategy_version: version,
    };
    merged_config(base, &Value::Object(request.config.config_overrides.clone()), &run)
}

/// The exchange a run config trades on, lower-cased as the market-data layout names it.
pub fn exchange_of(config: &Value) -> String {
    config["exchange"]["name"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| DEFAULT_EXCHANGE.to_owned())
}

/// The strategy container's environment for a workflow run, in the form of ECS container overrides: the same
/// variables every executor gives (pinned to `version`), plus the merged config and the note that the workflow,
/// not the container, writes the final status.
pub fn workflow_environment(
    job: &BacktestJob,
    context: &ContainerContext,
    version: u32,
    config_uri: &str,
    exchange: &str,
) -> Vec<ContainerVariable> {
    let mut pinned = job.clone();
    pinned.request.strategy_version = StrategyVersion::Number(version);
    // The overrides are merged into the config already: the container is given the config, not them.
    let mut environment: Vec<(String, String)> = container_environment(&pinned, context)
        .into_iter()
        .filter(|(name, _)| name != "CONFIG_OVERRIDES")
        .collect();
    environment.extend([
        ("CONFIG_PATH".to_owned(), config_uri.to_owned()),
        ("EXCHANGE".to_owned(), exchange.to_owned()),
        ("LAUNCHED_BY".to_owned(), "workflow".to_owned()),
    ]);
    environment
        .into_iter()
        .map(|(name, value)| ContainerVariable { name, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::BacktestRequest;
    use crate::store::MemoryStore;
    use crate::time::Timestamp;

    fn job(overrides: Value) -> BacktestJob {
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production",
            "experiment_name": "research/q1", "config": {"timeframe": "1h", "symbols": ["BTC/USDT", "ETH/USDT"],
            "start_date": "2025-01-01", "end_date": "2025-04-01", "config_overrides": overrides}});
        BacktestJob {
            run_id: RunId::new(),
            request: BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid"),
        }
    }

    #[test]
    fn overrides_merge_over_the_base_and_the_run_fields_win_over_both() {
        let mut job = job(json!({"stake_amount": 250, "exchange": {"name": "kraken"}}));
        // Overrides a submission refuses, as a state written by hand (or before the allow-list) could carry them.
        let mut overrides = Value::Object(job.request.config.config_overrides.clone());
        let forged = json!({"exchange": {"pair_whitelist": ["SOL/USDT"]}, "timeframe": "1m", "run_id": "forged"});
        deep_merge(&mut overrides, &forged);
        job.request.config.config_overrides = overrides.as_object().cloned().expect("a map");
        let base = json!({"stake_currency": "USDT", "stake_amount": 100, "exchange": {"name": "binance",
            "ccxt_config": {"enableRateLimit": true}, "pair_whitelist": ["XRP/USDT"]}});
        let config = run_config(base, &job, 7);
        assert_eq!(config["stake_amount"], 250);
        assert_eq!(config["stake_currency"], "USDT");
        assert_eq!(config["exchange"]["ccxt_config"]["enableRateLimit"], true);
        assert_eq!(config["exchange"]["pair_whitelist"], json!(["BTC/USDT", "ETH/USDT"]));
        assert_eq!(config["timeframe"], "1h");
        assert_eq!(config["dataformat_ohlcv"], "parquet");
        assert_eq!(config["run_id"], job.run_id.to_string());
        assert_eq!(config["strategy_version"], 7);
        assert_eq!(config["experiment_name"], "research/q1");
        assert_eq!(exchange_of(&config), "kraken");
        // A base config may spell it as the exchange does: the data layout's name is lower case.
        assert_eq!(exchange_of(&json!({"exchange": {"name": "Kraken"}})), "kraken");
        assert_eq!(exchange_of(&json!({})), DEFAULT_EXCHANGE);
    }

    #[test]
    fn the_environment_is_the_executors_pinned_and_told_its_config() {
        let job = job(json!({}));
        let context = ContainerContext {
            workflow_table: "jobs".into(),
            mlflow_tracking_uri: Some("http://mlflow:5000".into()),
            results_bucket: Some("results".into()),
            market_data_uri: Some("s3://data/ohlcv".into()),
        };
        let environment = workflow_environment(&job, &context, 7, "s3://configs/temp/x/config.yaml", "binance");
        let value = |name: &str| {
            environment
                .iter()
                .find(|variable| variable.name == name)
                .map(|variable| json!(variable.value))
        };
        assert_eq!(value("STRATEGY_VERSION"), Some(json!("7")));
        assert_eq!(value("CONFIG_PATH"), Some(json!("s3://configs/temp/x/config.yaml")));
        assert_eq!(value("LAUNCHED_BY"), Some(json!("workflow")));
        assert_eq!(value("PAIRS"), Some(json!("BTC/USDT,ETH/USDT")));
        assert_eq!(value("TIMERANGE"), Some(json!("20250101-20250401")));
        assert_eq!(value("MARKET_DATA_S3_URI"), Some(json!("s3://data/ohlcv")));
        assert_eq!(value("EXCHANGE"), Some(json!("binance")));
    }

    fn validated(job: BacktestJob, config_path: &str) -> ValidatedJob {
        ValidatedJob {
            data_freshness: None,
            job,
            strategy: ValidatedStrategy {
                version: 4,
                ecr_url: "123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:4".into(),
                image_digest: Some(crate::run_manifest::sha256_of(b"strategy-emacross:4")),
                config_path: config_path.into(),
                tags: Default::default(),
                exchange: None,
            },
        }
    }

    fn context() -> ContainerContext {
        ContainerContext {
            workflow_table: "jobs".into(),
            mlflow_tracking_uri: None,
            results_bucket: Some("results".into()),
            market_data_uri: None,
        }
    }

    /// A configs bucket whose account holds the base config `s3://releases/EmaCross/base.yaml`.
    async fn configs_with_base() -> crate::objects::MemoryObjects {
        let configs = crate::objects::MemoryObjects::new("configs");
        configs
            .in_bucket("releases")
            .put("EmaCross/base.yaml", b"stake_amount: 100\n".to_vec())
            .await
            .expect("put");
        configs
    }

    /// PrepareConfig over `configs` (results in the `results` bucket beside it) and `jobs`.
    async fn prepare(
        configs: &crate::objects::MemoryObjects,
        jobs: &MemoryStore,
        validated: &ValidatedJob,
    ) -> Result<Prepared, StepError> {
        prepare_in(configs, jobs, validated, context()).await
    }

    /// PrepareConfig as [`prepare`], its containers told `context`.
    async fn prepare_in(
        configs: &crate::objects::MemoryObjects,
        jobs: &MemoryStore,
        validated: &ValidatedJob,
        context: ContainerContext,
    ) -> Result<Prepared, StepError> {
        let results = configs.in_bucket("results");
        let deps = PrepareDeps {
            configs,
            results: &results,
            jobs,
            context: &context,
            task_prefix: "strategy-",
        };
        prepare_config(&deps, validated).await
    }

    #[tokio::test]
    async fn the_merged_config_is_written_beside_the_run_and_named_in_what_runbacktest_gets() {
        let configs = crate::objects::MemoryObjects::new("configs");
        let bases = configs.in_bucket("releases");
        bases
            .put(
                "EmaCross/base.yaml",
                b"stake_amount: 100\nexchange: {name: Kraken}\n".to_vec(),
            )
            .await
            .expect("put");
        let job = job(json!({"stake_amount": 250}));
        let run_id = job.run_id;
        let validated = validated(job, "s3://releases/EmaCross/base.yaml");
        let prepared = prepare(&configs, &MemoryStore::new(), &validated)
            .await
            .expect("prepared")
            .prepared;
        let key = format!("temp/{run_id}/config.yaml");
        assert_eq!(prepared.config_path, format!("s3://configs/{key}"));
        assert_eq!((prepared.strategy_version, prepared.exchange.as_str()), (4, "kraken"));
        assert_eq!(prepared.task_definition, "strategy-EmaCross");
        let written = configs.get(&key).await.expect("read").expect("written");
        let config: Value = serde_json::from_slice(&written).expect("JSON");
        assert_eq!(
            (config["stake_amount"].clone(), config["strategy_version"].clone()),
            (json!(250), json!(4))
        );
        let variable = |name: &str| {
            prepared
                .environment
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.value.clone())
        };
        assert_eq!(variable("CONFIG_PATH"), Some(prepared.config_path.clone()));
        assert_eq!(variable("CONFIG_OVERRIDES"), None, "merged already");
    }

    #[tokio::test]
    async fn the_run_is_planned_on_the_candle_versions_its_freshness_check_read_not_a_later_upload() {
        let configs = configs_with_base().await;
        let data = configs.in_bucket("data");
        let (btc, eth) = ("ohlcv/binance/BTC_USDT-1h.parquet", "ohlcv/binance/ETH_USDT-1h.parquet");
        data.put(btc, b"the candles checked".to_vec()).await.expect("put");
        data.put(eth, b"eth".to_vec()).await.expect("put");
        let checked = data.head(btc).await.expect("head").and_then(|info| info.version_id);
        data.put(btc, b"one day, pushed after the check".to_vec())
            .await
            .expect("put");
        let mut validated = validated(job(json!({})), "s3://releases/EmaCross/base.yaml");
        // $.data_freshness as CheckDataFreshness answers it: ETH read without a version (a bucket without any).
        let answer = json!({"all_fresh": true, "symbols": {
            "BTC/USDT": {"key": format!("s3://data/{btc}"), "version_id": checked, "is_fresh": true, "row_count": 3},
            "ETH/USDT": {"key": format!("s3://data/{eth}"), "is_fresh": true, "row_count": 3}}});
        validated.data_freshness = Some(serde_json::from_value(answer).expect("the step's answer"));
        let context = ContainerContext {
            market_data_uri: Some("s3://data/ohlcv".into()),
            ..context()
        };
        let prepared = prepare_in(&configs, &MemoryStore::new(), &validated, context)
            .await
            .expect("prepared")
            .prepared;
        let (_, key) = s3_object(&prepared.manifest_path).expect("an s3:// URI");
        let written = configs
            .in_bucket("results")
            .get(key)
            .await
            .expect("read")
            .expect("written");
        let manifest: RunManifest = serde_json::from_slice(&written).expect("a manifest");
        let pinned: Vec<(&str, &str)> = manifest
            .data
            .iter()
            .map(|file| (file.key.as_str(), file.sha256.as_str()))
            .collect();
        let (checked_hash, current_eth) = (
            crate::run_manifest::sha256_of(b"the candles checked"),
            crate::run_manifest::sha256_of(b"eth"),
        );
        assert_eq!(pinned, [(btc, checked_hash.as_str()), (eth, current_eth.as_str())]);
        assert_eq!(manifest.data[0].version_id, checked);
    }

    #[tokio::test]
    async fn the_run_starts_the_revision_registered_with_its_version() {
        let configs = configs_with_base().await;
        let mut validated = validated(job(json!({})), "s3://releases/EmaCross/base.yaml");
        validated
            .strategy
            .tags
            .insert("task_definition".into(), "strategy-EmaCross:7".into());
        let prepared = prepare(&configs, &MemoryStore::new(), &validated)
            .await
            .expect("prepared")
            .prepared;
        assert_eq!(prepared.task_definition, "strategy-EmaCross:7");

        for foreign in [
            "strategy-Other:7",
            "strategy-EmaCross",
            "strategy-EmaCross:",
            "strategy-EmaCross:7b",
        ] {
            validated.strategy.tags.insert("task_definition".into(), foreign.into());
            let error = prepare(&configs, &MemoryStore::new(), &validated)
                .await
                .expect_err("refused");
            assert!(matches!(error, StepError::MissingImage(_)), "{foreign}: {error:?}");
            assert!(error.to_string().contains(foreign), "{error}");
        }
    }

    /// A hyperopt run's recorded result, as the strategy container writes it.
    fn hyperopt_run(status: crate::backtest::Status, params: Value) -> crate::backtest::WorkflowRecord {
        let mut record = crate::workflow::fakes::sample_record(status);
        record.result = Some(json!({"mode": "hyperopt", "best_epoch": 3, "params": params, "metrics": {}}));
        record
    }

    #[tokio::test]
    async fn a_run_taking_a_hyperopts_parameters_gets_its_best_ones_and_fails_without_them() {
        let configs = crate::objects::MemoryObjects::new("configs");
        configs
            .put("base.yaml", b"stake_amount: 100\n".to_vec())
            .await
            .expect("put");
        let jobs = MemoryStore::new();
        let found = hyperopt_run(
            crate::backtest::Status::Completed,
            json!({"buy.buy_ema_fast": 8, "sell.sell_ema_slow": 30, "stoploss.stoploss": -0.07}),
        );
        jobs.create(&found).await.expect("recorded");
        let mut validated = validated(job(json!({})), "s3://configs/base.yaml");
        validated.job.request.config.parameters_from = Some(found.run_id);
        let prepared = prepare(&configs, &jobs, &validated).await.expect("prepared").prepared;
        let value = |name: &str| {
            prepared
                .environment
                .iter()
                .find(|variable| variable.name == name)
                .map(|variable| variable.value.clone())
        };
        let parameters: Value =
            serde_json::from_str(&value("STRATEGY_PARAMETERS").expect("a parameter file")).expect("JSON");
        assert_eq!(
            parameters,
            json!({"buy": {"buy_ema_fast": 8}, "sell": {"sell_ema_slow": 30}})
        );
        let config: Value = serde_json::from_slice(
            &configs
                .get(&run_config_key(&validated.job))
                .await
                .expect("read")
                .expect("written"),
        )
        .expect("JSON");
        assert_eq!(
            config["stoploss"],
            json!(-0.07),
            "a setting the hyperopt chose goes to the config"
        );

        let running = hyperopt_run(crate::backtest::Status::Running, json!({}));
        let backtested = {
            let mut record = crate::workflow::fakes::sample_record(crate::backtest::Status::Completed);
            record.result = Some(json!({"total_trades": 3}));
            record
        };
        for (from, says) in [
            (running.run_id, "RUNNING, not COMPLETED"),
            (backtested.run_id, "no hyperopt's best parameters"),
            (RunId::new(), "does not exist"),
        ] {
            jobs.create(&running).await.ok();
            jobs.create(&backtested).await.ok();
            validated.job.request.config.parameters_from = Some(from);
            let error = prepare(&configs, &jobs, &validated).await.expect_err("refused");
            assert_eq!(error.error_type(), ErrorType::InvalidInput, "{error}");
            assert!(error.to_string().contains(says), "{error}");
        }
    }

    #[tokio::test]
    async fn a_missing_or_unreadable_base_config_is_named() {
        let configs = crate::objects::MemoryObjects::new("configs");
        configs.put("bad.yaml", b"[unclosed".to_vec()).await.expect("put");
        for (path, error) in [
            ("s3://configs/none.yaml", ErrorType::MissingConfig),
            ("/etc/base.yaml", ErrorType::MissingConfig),
            ("s3://configs/bad.yaml", ErrorType::InvalidConfig),
        ] {
            let failed = prepare(&configs, &MemoryStore::new(), &validated(job(json!({})), path))
                .await
                .expect_err("refused");
            assert_eq!(failed.error_type(), error, "{path}");
            assert!(
                crate::report::chain(&failed).contains(path.trim_start_matches("s3://configs/")),
                "{failed}"
            );
            assert!(RAISES.contains(&failed.error_type()));
        }
        assert!(
            configs.keys().iter().all(|key| !key.starts_with("temp/")),
            "nothing written"
        );
    }
}
