//! The whole local deployment of `template.yaml`: moto with its Step Functions engine sending every integration call
//! to the router, the router in front of it, the function binaries under `cargo lambda watch`, the strategy
//! container's entrypoint as a local ECS task, the queue's event source mapping, and one set of resources made from
//! the template, shared by every run (runs are told apart by run id).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use serde_json::Value;

use crate::calls::Recorder;
use crate::ecs::LocalEcs;
use crate::event_source::QueueMapping;
use crate::functions::Functions;
use crate::http_api::HttpApi;
use crate::moto::{self, Moto};
use crate::physical::Physical;
use crate::router::Router;
use crate::{ACCOUNT, Error, REGION, Resources, Template, project_root};

/// How a deployment is made.
#[derive(Debug, Clone)]
pub struct DeploymentOptions {
    /// The strategy container's entrypoint binary the local ECS runs.
    pub entrypoint: PathBuf,
    /// How much shorter retry waits are than on AWS (moto's engine sleeps the scaled interval): 1 keeps AWS's.
    pub retry_scale: f64,
    /// What the resources' names end with.
    pub suffix: String,
    /// Where the functions reach MLflow (`MLFLOW_TRACKING_URI`).
    pub mlflow_url: String,
    /// The IAM identity every request to the HTTP API is taken to come from (API Gateway's IAM authorizer would
    /// have checked its signature).
    pub caller: String,
    /// Whether every AWS call through the router is kept with its caller (`Deployment::calls`): for tests that check
    /// the calls against the template's roles.
    pub record_calls: bool,
}

impl DeploymentOptions {
    /// The debug build's entrypoint, AWS's retry waits, resources named `local`, MLflow at `mlflow_url`.
    pub fn new(mlflow_url: impl Into<String>) -> Self {
        Self {
            entrypoint: entrypoint_binary(),
            retry_scale: 1.0,
            suffix: "local".to_owned(),
            mlflow_url: mlflow_url.into(),
            caller: format!("arn:aws:iam::{ACCOUNT}:user/local"),
            record_calls: false,
        }
    }
}

/// The role strategy tasks of the deployment with resources named `suffix` run with: the template's
/// `StrategyTaskRole` (`tradai-strategy-task-${Stage}`).
pub fn strategy_task_role_arn(suffix: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/tradai-strategy-task-{suffix}")
}

/// The entrypoint binary of the debug build (`cargo build -p tradai-entrypoint`).
pub fn entrypoint_binary() -> PathBuf {
    crate::debug_binary("tradai-entrypoint")
}

/// A running local deployment. Its router, local ECS and event source mapping run on the tokio runtime that started
/// it, which must outlive it.
pub struct Deployment {
    /// The router: the one endpoint (`AWS_ENDPOINT_URL`) of every client.
    pub endpoint: String,
    /// The HTTP API: the template's routes, as API Gateway serves them.
    pub api_url: String,
    pub template: &'static Template,
    pub resources: Resources,
    /// Where backtest outcomes are published, and a queue subscribed to it.
    pub topic_arn: String,
    pub inbox_url: String,
    /// The orphan scanner's alert topic, and a queue subscribed to it.
    pub alert_topic_arn: String,
    pub alerts_url: String,
    pub cluster_arn: String,
    pub state_machine_arn: String,
    /// The sweep workflow (`SWEEP_WORKFLOW_ARN`).
    pub sweep_state_machine_arn: String,
    pub ecs: Arc<LocalEcs>,
    pub functions: Functions,
    /// Every AWS call that passed the router, with who made it (when the options asked for it).
    pub calls: Arc<Recorder>,
    /// What the template's names resolve to here: the functions' environment and the state machines'
    /// substitutions come from it.
    pub physical: Physical,
    _moto: Moto,
}

/// The subnets and security group strategy tasks are given locally (the local ECS runs them as processes).
pub const LOCAL_NETWORK: [(&str, &str); 3] = [
    ("PrivateSubnetA", "subnet-0locala"),
    ("PrivateSubnetB", "subnet-0localb"),
    ("StrategySecurityGroup", "sg-0local"),
];

/// A function's variables whose template value names what only AWS has, and what they are locally: MLflow's
/// address (the stack's private DNS name on AWS).
fn local_value(variable: &str, options: &DeploymentOptions) -> Option<String> {
    (variable == "MLFLOW_TRACKING_URI").then(|| options.mlflow_url.clone())
}

/// Each function of `template` (by binary) with the variables its `Environment` gives it, resolved with
/// `physical`; a value that names what the deployment does not make is an error naming function, variable and name.
fn function_environments(
    template: &Value,
    physical: &Physical,
    options: &DeploymentOptions,
) -> Result<BTreeMap<String, Vec<(String, String)>>, Error> {
    let mut environments = BTreeMap::new();
    let functions = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function");
    for (logical_id, function) in functions {
        let mut variables = Vec::new();
        for (name, value) in function["Properties"]["Environment"]["Variables"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let value = match local_value(name, options) {
                Some(value) => value,
                None => physical.resolve_one(value).map_err(|missing| {
                    Error::Template(format!(
                        "{logical_id}'s {name} names {missing}, which the local deployment does not make"
                    ))
                })?,
            };
            variables.push((name.clone(), value));
        }
        environments.insert(crate::template::crate_of(logical_id), variables);
    }
    Ok(environments)
}

impl Deployment {
    /// Starts everything; answers once every part listens.
    pub async fn start(options: DeploymentOptions) -> Result<Deployment, Error> {
        let started = Instant::now();
        let template = Template::project()?;
        if !options.entrypoint.exists() {
            return Err(Error::NotInstalled {
                tool: "the strategy container's entrypoint (cargo build -p tradai-entrypoint)",
                path: options.entrypoint,
            });
        }
        let router_port = crate::free_port()?;
        let endpoint = format!("http://127.0.0.1:{router_port}");
        let moto = Moto::start(
            &[
                ("MOTO_PORT", router_port.to_string()),
                ("TRADAI_SFN_RETRY_SCALE", options.retry_scale.to_string()),
                // The engine's calls (Lambda invokes, RunTask, StartExecution) name the state machines' roles.
                ("AWS_SDK_UA_APP_ID", crate::calls::STATE_MACHINES.to_owned()),
            ],
            "moto-workflow",
        )?;
        let ecs = Arc::new(LocalEcs::new(
            options.entrypoint.clone(),
            endpoint.clone(),
            moto.url.clone(),
            project_root().join(".stand-ins/local-ecs"),
        ));
        // The router serves before anything is made through it; the functions it forwards invocations to start
        // once the resources they are configured with exist.
        let functions_port = crate::free_port()?;
        let functions_url = format!("http://127.0.0.1:{functions_port}");
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", router_port))
            .await
            .map_err(|source| Error::Start {
                what: format!("the router on port {router_port}"),
                source,
            })?;
        let calls = Arc::new(Recorder::new(options.record_calls));
        let router = Arc::new(Router::new(
            template,
            moto.url.clone(),
            functions_url,
            Arc::clone(&ecs),
            Arc::clone(&calls),
        )?);
        tokio::spawn(router.serve(listener));
        let sdk = moto::sdk_config_for(&endpoint).await;

        let resources = Resources::create(template, &sdk, &options.suffix).await?;
        let topics = Topics::create(&sdk, &options.suffix).await?;
        let cluster_arn = aws_sdk_ecs::Client::new(&sdk)
            .create_cluster()
            .cluster_name(format!("tradai-{}", options.suffix))
            .send()
            .await
            .map_err(|error| Error::aws("creating the cluster", error.into_service_error()))?
            .cluster
            .and_then(|cluster| cluster.cluster_arn)
            .ok_or_else(|| Error::Template("moto made a cluster without an ARN".to_owned()))?;
        let mlflow_secret = mlflow_credentials(&sdk, &format!("tradai/{}/mlflow", options.suffix), "tradai").await?;
        let strategy_secret = mlflow_credentials(
            &sdk,
            &format!("tradai/{}/mlflow-strategy", options.suffix),
            "tradai-strategy",
        )
        .await?;
        let database_secret =
            mlflow_credentials(&sdk, &format!("tradai/{}/mlflow-database", options.suffix), "mlflow").await?;
        // MLflow's database and service are not made here (the local MLflow is a process with a SQLite store):
        // their names are those AWS would give them, for the rotation function's environment and role.
        let cluster_name = cluster_arn.rsplit('/').next().unwrap_or_default().to_owned();
        let mlflow_name = format!("tradai-mlflow-{}", options.suffix);
        let mlflow_service = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster_name}/{mlflow_name}");
        let table = |name: &str| {
            (
                name.to_owned(),
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
            )
        };
        let bucket = |name: &str| (name.to_owned(), format!("arn:aws:s3:::{name}"));
        let same = |arn: &str| (arn.to_owned(), arn.to_owned());
        let mut made: BTreeMap<String, (String, String)> = [
            ("WorkflowStateTable", table(&resources.table)),
            ("IdempotencyTable", table(&resources.idempotency_table)),
            ("SweepTable", table(&resources.sweep_table)),
            ("MarketDataBucket", bucket(&resources.market_data_bucket)),
            ("ConfigBucket", bucket(&resources.config_bucket)),
            ("ResultsBucket", bucket(&resources.results_bucket)),
            (
                "BacktestQueue",
                (resources.queue_url.clone(), resources.queue_arn.clone()),
            ),
            ("NotificationTopic", same(&topics.outcomes)),
            ("AlertTopic", same(&topics.alerts)),
            ("StrategyCluster", (cluster_name.clone(), cluster_arn.clone())),
            (
                "StrategyLogGroup",
                (
                    resources.strategy_log_group.clone(),
                    format!(
                        "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}",
                        resources.strategy_log_group
                    ),
                ),
            ),
            ("MlflowCredentials", same(&mlflow_secret)),
            ("MlflowStrategyCredentials", same(&strategy_secret)),
            ("MlflowDatabaseCredentials", same(&database_secret)),
            (
                "MlflowDatabase",
                (
                    mlflow_name.clone(),
                    format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:{mlflow_name}"),
                ),
            ),
            ("MlflowService", same(&mlflow_service)),
        ]
        .into_iter()
        .map(|(id, names)| (id.to_owned(), names))
        .collect();
        for (id, name) in LOCAL_NETWORK {
            made.insert(id.to_owned(), (name.to_owned(), name.to_owned()));
        }
        let mut physical = Physical::new(template.value(), made, &options.suffix);
        let definition = template.definition("BacktestStateMachine", &physical)?;
        let state_machine_arn = aws_sdk_sfn::Client::new(&sdk)
            .create_state_machine()
            .name(format!("tradai-backtest-{}", options.suffix))
            .definition(definition)
            .role_arn(format!(
                "arn:aws:iam::{ACCOUNT}:role/tradai-backtest-{}",
                options.suffix
            ))
            .send()
            .await
            .map_err(|error| Error::aws("creating the state machine", error.into_service_error()))?
            .state_machine_arn;
        physical.resources.insert(
            "BacktestStateMachine".to_owned(),
            (state_machine_arn.clone(), state_machine_arn.clone()),
        );
        let sweep_definition = template.definition("SweepStateMachine", &physical)?;
        let sweep_state_machine_arn = aws_sdk_sfn::Client::new(&sdk)
            .create_state_machine()
            .name(format!("tradai-sweep-{}", options.suffix))
            .definition(sweep_definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/tradai-sweep-{}", options.suffix))
            .send()
            .await
            .map_err(|error| Error::aws("creating the sweep state machine", error.into_service_error()))?
            .state_machine_arn;
        physical.resources.insert(
            "SweepStateMachine".to_owned(),
            (sweep_state_machine_arn.clone(), sweep_state_machine_arn.clone()),
        );

        // Every function with the environment its template entry gives it; the process's own settings (where AWS
        // is, with what credentials) for all of them.
        let environments = function_environments(template.value(), &physical, &options)?;
        let environment = [
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        let functions = Functions::start(functions_port, &environment, &environments)?;
        let api_port = crate::free_port()?;
        let api_listener = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
            .await
            .map_err(|source| Error::Start {
                what: format!("the HTTP API on port {api_port}"),
                source,
            })?;
        let api = HttpApi::new(template.routes(), functions.invoker(), options.caller.clone());
        tokio::spawn(Arc::new(api).serve(api_listener));
        // The consumer's event source mapping, as the template declares it.
        tokio::spawn(
            QueueMapping {
                sqs: aws_sdk_sqs::Client::new(&sdk),
                queue_arn: resources.queue_arn.clone(),
                queue_url: resources.queue_url.clone(),
                invoke_url: functions.invoke_url("sqs-consumer"),
                batch_size: template.batch_size("SqsConsumerFunction", "BacktestQueue")?,
            }
            .run(),
        );
        tracing::info!(elapsed = ?started.elapsed(), %endpoint, api = %format!("http://127.0.0.1:{api_port}"), "local deployment up");
        Ok(Deployment {
            endpoint,
            api_url: format!("http://127.0.0.1:{api_port}"),
            template,
            resources,
            topic_arn: topics.outcomes,
            inbox_url: topics.outcomes_inbox,
            alert_topic_arn: topics.alerts,
            alerts_url: topics.alerts_inbox,
            cluster_arn,
            state_machine_arn,
            sweep_state_machine_arn,
            ecs,
            functions,
            calls,
            physical,
            _moto: moto,
        })
    }

    /// SDK configuration for the deployment's endpoint, for clients of the calling runtime.
    pub async fn sdk_config(&self) -> SdkConfig {
        moto::sdk_config_for(&self.endpoint).await
    }

    /// A Step Functions client for the calling runtime.
    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk_config().await)
    }

    /// Fires the orphan scanner as its schedule does: the function's binary invoked with the scheduled event
    /// EventBridge sends. Answers the scanner's answer (`{orphan_count, jobs_marked_failed, not_judged}`).
    pub async fn scan_orphans(&self) -> Result<Value, Error> {
        let rule = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/tradai-orphan-scan-local");
        let event = serde_json::json!({
            "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT,
            "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": REGION, "resources": [rule], "detail": {}
        });
        self.functions.invoke("orphan-scanner", &event).await
    }
}

/// An MLflow credentials secret `name` for `username`: the functions' (`MlflowCredentials`, `tradai/<stage>/mlflow`)
/// or the strategy containers' (`MlflowStrategyCredentials`, `tradai/<stage>/mlflow-strategy`); the local MLflow
/// takes no password, so any will do. Answers its ARN; made again, it is the one already there.
async fn mlflow_credentials(sdk: &SdkConfig, name: &str, username: &str) -> Result<String, Error> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let created = secrets
        .create_secret()
        .name(name)
        .secret_string(serde_json::json!({"username": username, "password": "local"}).to_string())
        .send()
        .await;
    match created {
        Ok(secret) => secret.arn,
        Err(error) => {
            let error = error.into_service_error();
            if !error.is_resource_exists_exception() {
                return Err(Error::aws(format!("creating secret {name}"), error));
            }
            secrets
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|error| Error::aws(format!("reading secret {name}"), error.into_service_error()))?
                .arn
        }
    }
    .ok_or_else(|| Error::Template(format!("moto made secret {name} without an ARN")))
}

/// The topics the template's functions publish to, each with a queue subscribed: what a subscriber receives.
struct Topics {
    outcomes: String,
    outcomes_inbox: String,
    alerts: String,
    alerts_inbox: String,
}

impl Topics {
    async fn create(sdk: &SdkConfig, suffix: &str) -> Result<Topics, Error> {
        let (outcomes, outcomes_inbox) = subscribed_topic(
            sdk,
            &format!("tradai-backtest-notifications-{suffix}"),
            &format!("tradai-notifications-inbox-{suffix}"),
        )
        .await?;
        let (alerts, alerts_inbox) = subscribed_topic(
            sdk,
            &format!("tradai-alerts-{suffix}"),
            &format!("tradai-alerts-inbox-{suffix}"),
        )
        .await?;
        Ok(Topics {
            outcomes,
            outcomes_inbox,
            alerts,
            alerts_inbox,
        })
    }
}

/// Topic `topic` and queue `queue` subscribed to it: (topic ARN, queue URL).
async fn subscribed_topic(sdk: &SdkConfig, topic: &str, queue: &str) -> Result<(String, String), Error> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic_arn = sns
        .create_topic()
        .name(topic)
        .send()
        .await
        .map_err(|error| Error::aws(format!("creating topic {topic}"), error.into_service_error()))?
        .topic_arn
        .ok_or_else(|| Error::Template(format!("moto made topic {topic} without an ARN")))?;
    let queue_url = aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .map_err(|error| Error::aws(format!("creating queue {queue}"), error.into_service_error()))?
        .queue_url
        .ok_or_else(|| Error::Template(format!("moto made queue {queue} without a URL")))?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
        .send()
        .await
        .map_err(|error| Error::aws(format!("subscribing {queue} to {topic}"), error.into_service_error()))?;
    Ok((topic_arn, queue_url))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_function_gets_its_own_variables_resolved_and_an_unmade_resource_stops_it() {
        let template = json!({
            "Parameters": {"Stage": {"Default": "dev"}, "ExecutorMode": {"Default": "sqs"}},
            "Resources": {
                "SubmitBacktestFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Environment":
                    {"Variables": {"EXECUTOR_MODE": {"Ref": "ExecutorMode"},
                        "MLFLOW_TRACKING_URI": {"Fn::Sub": "http://mlflow.tradai-${Stage}.local:5000"},
                        "WORKFLOW_STATE_TABLE": {"Ref": "WorkflowStateTable"}}}}},
                "HealthFunction": {"Type": "AWS::Serverless::Function", "Properties": {}}
            }
        });
        let made = BTreeMap::from([(
            "WorkflowStateTable".to_owned(),
            ("jobs-local".to_owned(), "arn:jobs".to_owned()),
        )]);
        let physical = Physical::new(&template, made, "local");
        let options = DeploymentOptions::new("http://127.0.0.1:5000");
        let environments = function_environments(&template, &physical, &options).expect("resolved");
        assert_eq!(environments["health"], []);
        assert_eq!(
            environments["submit-backtest"],
            [
                ("EXECUTOR_MODE".to_owned(), "sqs".to_owned()),
                ("MLFLOW_TRACKING_URI".to_owned(), "http://127.0.0.1:5000".to_owned()),
                ("WORKFLOW_STATE_TABLE".to_owned(), "jobs-local".to_owned()),
            ]
        );
        let without = Physical::new(&template, BTreeMap::new(), "local");
        let refused = function_environments(&template, &without, &options).expect_err("refused");
        assert_eq!(
            refused.to_string(),
            "template.yaml: SubmitBacktestFunction's WORKFLOW_STATE_TABLE names WorkflowStateTable, which the local deployment does not make"
        );
    }
}
