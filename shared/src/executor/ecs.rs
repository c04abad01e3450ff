use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, KeyValuePair,
    NetworkConfiguration, Tag, TaskOverride,
};

use super::{Handoff, LaunchError, Launcher};
use crate::backtest::{BacktestJob, FieldError, Status};
use crate::sweep::StrategyParameters;

/// Where strategy containers run: the cluster, the task definition family prefix (the family is the prefix and
/// the strategy name, as in the original design), the network, and the container to override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlacement {
    pub cluster: String,
    pub task_prefix: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub container_name: String,
}

/// What a strategy container is told beside its job: where the job's record, MLflow and the results are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerContext {
    pub workflow_table: String,
    pub mlflow_tracking_uri: Option<String>,
    pub results_bucket: Option<String>,
    /// `MARKET_DATA_S3_URI`: where the container fetches the candles from.
    pub market_data_uri: Option<String>,
}

/// The strategy container's environment for `job`, with the original design's names.
pub fn container_environment(job: &BacktestJob, context: &ContainerContext) -> Vec<(String, String)> {
    let request = &job.request;
    let config = &request.config;
    let pairs: Vec<&str> = config.symbols.iter().map(|symbol| symbol.as_str()).collect();
    let mode = if config.hyperopt.is_some() {
        "hyperopt"
    } else {
        "backtest"
    };
    let mut environment = vec![
        ("RUN_ID".to_owned(), job.run_id.to_string()),
        ("TRADING_MODE".to_owned(), mode.to_owned()),
        ("STRATEGY".to_owned(), request.strategy_name.clone()),
        ("STRATEGY_VERSION".to_owned(), request.strategy_version.to_string()),
        ("TIMEFRAME".to_owned(), config.timeframe.to_string()),
        ("TIMERANGE".to_owned(), config.timerange()),
        ("PAIRS".to_owned(), pairs.join(",")),
        ("EXPERIMENT_NAME".to_owned(), request.experiment_name.clone()),
        ("DYNAMODB_TABLE".to_owned(), context.workflow_table.clone()),
        ("WORKFLOW_STATE_TABLE".to_owned(), context.workflow_table.clone()),
    ];
    if let Some(uri) = &context.mlflow_tracking_uri {
        environment.push(("MLFLOW_TRACKING_URI".to_owned(), uri.clone()));
    }
    if let Some(bucket) = &context.results_bucket {
        environment.push(("S3_RESULTS_BUCKET".to_owned(), bucket.clone()));
    }
    if let Some(uri) = &context.market_data_uri {
        environment.push(("MARKET_DATA_S3_URI".to_owned(), uri.clone()));
    }
    if !config.config_overrides.is_empty() {
        let overrides = serde_json::Value::Object(config.config_overrides.clone());
        environment.push(("CONFIG_OVERRIDES".to_owned(), overrides.to_string()));
    }
    if let Some(file) = StrategyParameters::new(&request.strategy_name, &config.parameters).file {
        environment.push(("STRATEGY_PARAMETERS".to_owned(), file["params"].to_string()));
    }
    if let Some(search) = &config.hyperopt {
        environment.extend([
            ("HYPEROPT_EPOCHS".to_owned(), search.epochs.to_string()),
            ("HYPEROPT_LOSS".to_owned(), search.loss.clone()),
        ]);
    }
    environment
}

/// The most characters of task overrides RunTask accepts.
pub const MAX_OVERRIDES_CHARS: usize = 8_192;

/// `EXECUTOR_MODE=ecs`: one Fargate task per job, on Spot capacity when there is any and on regular Fargate when
/// Spot has none. The run id is RunTask's client token, so a retried hand-off does not start a second task.
#[derive(Debug, Clone)]
pub struct EcsTasks {
    client: Client,
    placement: TaskPlacement,
    context: ContainerContext,
}

impl EcsTasks {
    pub fn new(client: Client, placement: TaskPlacement, context: ContainerContext) -> Self {
        Self {
            client,
            placement,
            context,
        }
    }

    /// The length of `job`'s container overrides as RunTask sends them (ECS refuses more than
    /// [`MAX_OVERRIDES_CHARS`]).
    pub fn overrides_length(&self, job: &BacktestJob) -> usize {
        let environment: Vec<serde_json::Value> = container_environment(job, &self.context)
            .into_iter()
            .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
            .collect();
        let overrides = serde_json::json!({"containerOverrides": [{"name": self.placement.container_name,
            "environment": environment}]});
        overrides.to_string().chars().count()
    }

    async fn run(&self, job: &BacktestJob, capacity: &str) -> Result<Result<String, String>, LaunchError> {
        let placement = &self.placement;
        let environment = container_environment(job, &self.context)
            .into_iter()
            .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
            .collect();
        let container = ContainerOverride::builder()
            .name(&placement.container_name)
            .set_environment(Some(environment))
            .build();
        let network = AwsVpcConfiguration::builder()
            .set_subnets(Some(placement.subnets.clone()))
            .set_security_groups(Some(placement.security_groups.clone()))
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .map_err(LaunchError::unavailable)?;
        let strategy = CapacityProviderStrategyItem::builder()
            .capacity_provider(capacity)
            .weight(1)
            .build()
            .map_err(LaunchError::unavailable)?;
        let tag = |key: &str, value: String| Tag::builder().key(key).value(value).build();
        let output = self
            .client
            .run_task()
            .cluster(&placement.cluster)
            .task_definition(format!("{}{}", placement.task_prefix, job.request.strategy_name))
            .count(1)
            .capacity_provider_strategy(strategy)
            .network_configuration(NetworkConfiguration::builder().awsvpc_configuration(network).build())
            .overrides(TaskOverride::builder().container_overrides(container).build())
            .started_by("tradai")
            .client_token(job.run_id.to_string())
            .tags(tag("run_id", job.run_id.to_string()))
            .tags(tag("strategy", job.request.strategy_name.clone()))
            .send()
            .await
            .map_err(|error| LaunchError::unavailable(error.into_service_error()))?;
        if let Some(task_arn) = output.tasks().first().and_then(|task| task.task_arn.clone()) {
            return Ok(Ok(task_arn));
        }
        let reasons: Vec<String> = output
            .failures()
            .iter()
            .map(|failure| {
                format!(
                    "{} ({})",
                    failure.reason().unwrap_or("unknown"),
                    failure.arn().unwrap_or("-")
                )
            })
            .collect();
        Ok(Err(if reasons.is_empty() {
            "RunTask started no task".to_owned()
        } else {
            reasons.join("; ")
        }))
    }
}

impl Launcher for EcsTasks {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    fn admits(&self, job: &BacktestJob) -> Result<(), FieldError> {
        let length = self.overrides_length(job);
        if length > MAX_OVERRIDES_CHARS {
            return Err(FieldError::new(
                "config.config_overrides",
                format!(
                    "the strategy task's overrides would be {length} characters, over ECS's limit of \
                     {MAX_OVERRIDES_CHARS}: shorten config_overrides"
                ),
            ));
        }
        Ok(())
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        let task_arn = match self.run(job, "FARGATE_SPOT").await? {
            Ok(task_arn) => task_arn,
            Err(reason) if reason.to_ascii_lowercase().contains("capacity") => {
                tracing::warn!(run_id = %job.run_id, %reason, "no Spot capacity; starting on regular Fargate");
                self.run(job, "FARGATE").await?.map_err(LaunchError::Refused)?
            }
            Err(reason) => return Err(LaunchError::Refused(reason)),
        };
        Ok(Handoff {
            execution_arn: None,
            task_arn: Some(task_arn),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backtest::{BacktestRequest, RunId};
    use crate::time::Timestamp;

    #[test]
    fn the_environment_carries_the_original_names() {
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production", "config": {
            "timeframe": "5m", "symbols": ["BTC/USDT", "ETH/USDT"], "start_date": "2024-01-01",
            "end_date": "2024-03-01"}});
        let request = BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("ok");
        let job = BacktestJob {
            run_id: RunId::new(),
            request,
        };
        let context = ContainerContext {
            workflow_table: "jobs".into(),
            mlflow_tracking_uri: Some("http://mlflow:5000".into()),
            results_bucket: None,
            market_data_uri: Some("s3://tradai-market-data-local/ohlcv".into()),
        };
        let environment: std::collections::HashMap<String, String> =
            container_environment(&job, &context).into_iter().collect();
        assert_eq!(environment["RUN_ID"], job.run_id.to_string());
        assert_eq!(environment["STRATEGY"], "EmaCross");
        assert_eq!(environment["STRATEGY_VERSION"], "production");
        assert_eq!(environment["TIMERANGE"], "20240101-20240301");
        assert_eq!(environment["PAIRS"], "BTC/USDT,ETH/USDT");
        assert_eq!(environment["EXPERIMENT_NAME"], "backtests/EmaCross");
        assert_eq!(environment["DYNAMODB_TABLE"], "jobs");
        assert!(!environment.contains_key("S3_RESULTS_BUCKET"));
        assert!(
            !environment.contains_key("STRATEGY_PARAMETERS"),
            "no parameters, no file"
        );

        let mut job = job;
        job.request.config.parameters = [("buy_ema_fast", json!(8)), ("sell.threshold", json!(0.5))]
            .into_iter()
            .map(|(name, value)| (crate::sweep::Parameter::parse(name).expect("a name"), value))
            .collect();
        let environment: std::collections::HashMap<String, String> =
            container_environment(&job, &context).into_iter().collect();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&environment["STRATEGY_PARAMETERS"]).expect("JSON"),
            json!({"buy": {"buy_ema_fast": 8}, "sell": {"threshold": 0.5}}),
            "the parameters by space, as the parameter file's params"
        );
        assert_eq!(environment["TRADING_MODE"], "backtest");
        assert!(!environment.contains_key("HYPEROPT_EPOCHS"));

        job.request.config.hyperopt = Some(crate::backtest::Hyperopt {
            epochs: 30,
            loss: "SortinoHyperOptLoss".into(),
        });
        let environment: std::collections::HashMap<String, String> =
            container_environment(&job, &context).into_iter().collect();
        assert_eq!(
            (
                environment["TRADING_MODE"].as_str(),
                environment["HYPEROPT_EPOCHS"].as_str(),
                environment["HYPEROPT_LOSS"].as_str()
            ),
            ("hyperopt", "30", "SortinoHyperOptLoss"),
            "a hyperopt job runs the engine's hyperopt mode with its search"
        );
    }
}
