//! The local stack that executes the deployed state machine without AWS (DESIGN §7, LOCAL-STACK.md): a moto of its
//! own whose Step Functions engine sends every integration call to our router, the router in front of it, the
//! real function binaries under `cargo lambda watch`, the strategy container's entrypoint as a local ECS task, and
//! one set of resources made from `template.yaml`, shared by every workflow run of the process (runs are told
//! apart by run id). It starts once per process and ends with it.

pub mod ecs;
pub mod queue;
pub mod router;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::stack::Stack;
use crate::{emulator, project_root, template};

/// The account and region local ARNs carry.
pub const ACCOUNT: &str = "123456789012";
const REGION: &str = emulator::REGION;

/// How much shorter than on AWS retry waits are here (moto's engine sleeps the scaled interval).
const RETRY_SCALE: &str = "0.01";

/// The running local stack.
pub struct LocalStack {
    /// The router: the one endpoint (`AWS_ENDPOINT_URL`) of every client.
    pub endpoint: String,
    /// The resources every workflow run uses, as names (clients belong to runtimes: see [`LocalStack::stack`]).
    resources: Stack,
    pub topic_arn: String,
    /// A queue subscribed to the topic: what a subscriber receives.
    pub inbox_url: String,
    pub cluster_arn: String,
    pub state_machine_arn: String,
    /// The orphan scanner's alert topic, and a queue subscribed to it.
    pub alert_topic_arn: String,
    pub alerts_url: String,
    pub ecs: Arc<ecs::LocalEcs>,
    /// Where `cargo lambda watch` takes invocations.
    lambda_url: String,
    _processes: Vec<Child>,
}

impl LocalStack {
    /// The local stack, started on first use.
    pub fn get() -> &'static LocalStack {
        static STACK: OnceLock<LocalStack> = OnceLock::new();
        STACK.get_or_init(start)
    }

    /// The shared resources, with clients for the calling runtime.
    pub async fn stack(&self) -> Stack {
        self.resources.reconnect(emulator::sdk_config_for(&self.endpoint).await)
    }

    /// A Step Functions client for the calling runtime.
    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&emulator::sdk_config_for(&self.endpoint).await)
    }

    /// Fires the orphan scanner as its schedule does: the function's binary under `cargo lambda watch`, invoked
    /// with the scheduled event EventBridge sends. Answers the scanner's answer
    /// (`{orphan_count, jobs_marked_failed, not_judged}`).
    pub async fn scan_orphans(&self) -> Value {
        let rule = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/tradai-orphan-scan-local");
        let event = serde_json::json!({
            "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT, "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": REGION, "resources": [rule], "detail": {}
        });
        let url = format!("{}/2015-03-31/functions/orphan-scanner/invocations", self.lambda_url);
        let answer = reqwest::Client::new()
            .post(&url)
            .json(&event)
            .send()
            .await
            .expect("cargo lambda watch answers");
        let ok = answer.status().is_success();
        let body: Value = answer.json().await.expect("a JSON answer");
        assert!(ok, "the orphan scanner failed: {body}");
        body
    }
}

/// `PrepareConfigFunction` → `prepare-config`, the crate and binary name.
pub fn crate_of(logical_id: &str) -> String {
    let name = logical_id.strip_suffix("Function").unwrap_or(logical_id);
    let mut kebab = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            kebab.push('-');
        }
        kebab.push(character.to_ascii_lowercase());
    }
    kebab
}

/// The local ARN of the function that template resource `logical_id` deploys.
pub fn function_arn(logical_id: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", crate_of(logical_id))
}

/// The definition as deployed, with the template's substitutions filled the local way: a function's `!GetAtt
/// X.Arn` is its local ARN, the cluster is the local one, literals stay; anything else must be named in `local`.
pub fn definition(local: &[(&str, String)]) -> String {
    let machine = template::properties("BacktestStateMachine");
    let path = project_root().join(machine["DefinitionUri"].as_str().expect("DefinitionUri"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let substitutions = machine["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions");
    for (name, value) in substitutions {
        let local_value = local
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone());
        let filled = match (local_value, value) {
            (Some(value), _) => value,
            (None, Value::String(literal)) => literal.clone(),
            (None, value) => match value["Fn::GetAtt"].as_array().map(Vec::as_slice) {
                Some([resource, attribute]) if attribute == "Arn" => {
                    let resource = resource.as_str().expect("a logical id");
                    assert_eq!(
                        template::template()["Resources"][resource]["Type"],
                        "AWS::Serverless::Function",
                        "substitution {name}: the local stack fills only function ARNs by itself"
                    );
                    function_arn(resource)
                }
                _ => panic!("substitution {name} = {value} has no local value"),
            },
        };
        text = text.replace(&format!("${{{name}}}"), &filled);
    }
    assert!(
        !text.contains("${"),
        "{}: a substitution is left unfilled",
        path.display()
    );
    text
}

/// What the template's rules on Step Functions executions (`AWS::Events::Rule` with source `aws.states`) invoke for
/// execution `execution_arn` that ended in `status`: each matching rule's target functions with their transformed
/// input, as EventBridge would.
pub fn ended_execution_targets(execution_arn: &str, status: &str) -> Vec<(String, String)> {
    let name = execution_arn.rsplit(':').next().unwrap_or_default();
    let event = serde_json::json!({"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
        "detail": {"executionArn": execution_arn, "name": name, "status": status}});
    let resources = template::template()["Resources"].as_object().expect("Resources");
    resources
        .values()
        .filter(|resource| resource["Type"] == "AWS::Events::Rule")
        .map(|rule| &rule["Properties"])
        .filter(|rule| {
            rule["EventPattern"]["source"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == "aws.states"))
        })
        .filter(|rule| {
            rule["EventPattern"]["detail"]["status"]
                .as_array()
                .is_some_and(|statuses| statuses.iter().any(|wanted| wanted == status))
        })
        .flat_map(|rule| rule["Targets"].as_array().cloned().unwrap_or_default())
        .map(|target| {
            let function = target["Arn"]["Fn::GetAtt"][0]
                .as_str()
                .expect("a function target")
                .to_owned();
            let transformer = &target["InputTransformer"];
            let mut input = transformer["InputTemplate"]
                .as_str()
                .expect("an input template")
                .to_owned();
            for (key, path) in transformer["InputPathsMap"].as_object().into_iter().flatten() {
                let pointer = path.as_str().expect("a path").trim_start_matches('$').replace('.', "/");
                let value = event.pointer(&pointer).unwrap_or(&Value::Null).to_string();
                input = input.replace(&format!("<{key}>"), &value);
            }
            (crate_of(&function), input)
        })
        .collect()
}

/// The entrypoint binary the local ECS runs (built by `make test` before the tests).
pub fn entrypoint_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| project_root().join("target"), PathBuf::from);
    let binary = target.join("debug/tradai-entrypoint");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p tradai-entrypoint` (make test does)",
        binary.display()
    );
    binary
}

fn start() -> LocalStack {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("local-stack".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the local stack");
            runtime.block_on(async move {
                let stack = boot().await;
                sender.send(stack).expect("the local stack is awaited");
                // The router and the local ECS live on this runtime for the rest of the process.
                std::future::pending::<()>().await;
            });
        })
        .expect("the local stack's thread");
    receiver.recv().expect("the local stack started")
}

async fn boot() -> LocalStack {
    crate::capture_logs();
    let root = project_root();
    let started = Instant::now();
    let router_port = crate::free_port();
    let endpoint = format!("http://127.0.0.1:{router_port}");
    let (moto_url, moto) = emulator::start_moto_with(
        &[
            ("MOTO_PORT", router_port.to_string()),
            ("TRADAI_SFN_RETRY_SCALE", RETRY_SCALE.to_owned()),
        ],
        "moto-workflow",
    );
    let lambda_port = crate::free_port();
    let lambda_url = format!("http://127.0.0.1:{lambda_port}");
    let ecs = Arc::new(ecs::LocalEcs::new(
        entrypoint_binary(),
        endpoint.clone(),
        moto_url.clone(),
        root.join(".stand-ins/local-ecs"),
    ));
    let router = Arc::new(router::Router::new(moto_url, lambda_url.clone(), Arc::clone(&ecs)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", router_port))
        .await
        .expect("the router's port");
    tokio::spawn(router.serve(listener));

    let sdk = emulator::sdk_config_for(&endpoint).await;
    let resources = Stack::create(sdk.clone()).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic_arn = sns
        .create_topic()
        .name("tradai-backtest-notifications-local")
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("topic ARN");
    let inbox_url = resources
        .sqs
        .create_queue()
        .queue_name("tradai-notifications-inbox")
        .send()
        .await
        .expect("inbox")
        .queue_url
        .expect("inbox URL");
    let inbox_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:tradai-notifications-inbox");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(inbox_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .expect("subscribed");
    let alert_topic_arn = sns
        .create_topic()
        .name("tradai-alerts-local")
        .send()
        .await
        .expect("alert topic")
        .topic_arn
        .expect("alert topic ARN");
    let alerts_url = resources
        .sqs
        .create_queue()
        .queue_name("tradai-alerts-inbox")
        .send()
        .await
        .expect("alerts inbox")
        .queue_url
        .expect("alerts inbox URL");
    sns.subscribe()
        .topic_arn(&alert_topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:tradai-alerts-inbox"))
        .send()
        .await
        .expect("subscribed");
    let ecs_client = aws_sdk_ecs::Client::new(&sdk);
    let cluster_arn = ecs_client
        .create_cluster()
        .cluster_name("tradai-local")
        .send()
        .await
        .expect("cluster")
        .cluster
        .and_then(|cluster| cluster.cluster_arn)
        .expect("cluster ARN");

    let definition = definition(&[
        ("StrategyClusterArn", cluster_arn.clone()),
        ("StrategySubnets", "subnet-0local".to_owned()),
        ("StrategySecurityGroups", "sg-0local".to_owned()),
    ]);
    let state_machine_arn = aws_sdk_sfn::Client::new(&sdk)
        .create_state_machine()
        .name("tradai-backtest-local")
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/tradai-backtest-local"))
        .send()
        .await
        .expect("the state machine is accepted")
        .state_machine_arn;
    let functions = [
        ("WORKFLOW_STATE_TABLE", resources.table.clone()),
        ("S3_CONFIG_BUCKET", resources.config_bucket.clone()),
        ("S3_RESULTS_BUCKET", resources.results_bucket.clone()),
        (
            "MARKET_DATA_S3_URI",
            format!("s3://{}/ohlcv", resources.market_data_bucket),
        ),
        ("NOTIFICATION_TOPIC_ARN", topic_arn.clone()),
        ("MLFLOW_TRACKING_URI", crate::mlflow::endpoint().to_owned()),
        ("ECS_TASK_PREFIX", "strategy-".to_owned()),
        ("BACKTEST_WORKFLOW_ARN", state_machine_arn.clone()),
        ("ALERT_TOPIC_ARN", alert_topic_arn.clone()),
        ("ENVIRONMENT", "local".to_owned()),
        ("ECS_CLUSTER", cluster_arn.clone()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let watch = start_cargo_lambda(lambda_port, &functions);
    // The consumer's event source mapping, as the template declares it.
    let mapping = &template::properties("SqsConsumerFunction")["Events"]["BacktestQueue"]["Properties"];
    tokio::spawn(
        queue::QueueMapping {
            sqs: resources.sqs.clone(),
            queue_arn: format!(
                "arn:aws:sqs:{REGION}:{ACCOUNT}:{}",
                resources.queue_url.rsplit('/').next().unwrap_or_default()
            ),
            queue_url: resources.queue_url.clone(),
            invoke_url: format!("{lambda_url}/2015-03-31/functions/sqs-consumer/invocations"),
            batch_size: mapping["BatchSize"]
                .as_i64()
                .and_then(|size| i32::try_from(size).ok())
                .unwrap_or(10),
        }
        .run(),
    );

    tracing::info!(elapsed = ?started.elapsed(), %endpoint, "local stack up");
    LocalStack {
        endpoint,
        resources,
        topic_arn,
        inbox_url,
        cluster_arn,
        state_machine_arn,
        alert_topic_arn,
        alerts_url,
        ecs,
        lambda_url,
        _processes: vec![moto, watch],
    }
}

/// Runs its arguments as a command until the process named by STAND_IN_PARENT_PID (or the command) ends, then
/// stops its whole process group.
const WATCHDOG: &str = r#""$@" & child=$!
while kill -0 "$STAND_IN_PARENT_PID" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -TERM -- "-$$" 2>/dev/null"#;

/// `cargo lambda watch` serving the workspace's functions on `port`, each with `environment`.
fn start_cargo_lambda(port: u16, environment: &[(&str, String)]) -> Child {
    let root = project_root();
    let program = root.join(".stand-ins/venv/bin/cargo-lambda");
    assert!(
        program.exists(),
        "cargo-lambda is not installed: run `make stand-ins` (make test does), which puts it in .stand-ins/venv"
    );
    let log = std::fs::File::create(root.join(".stand-ins/cargo-lambda.log")).expect("log file");
    let copy = log.try_clone().expect("log file");
    let variables: Vec<String> = environment
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    // In a process group of its own, stopped as a whole (with the functions it started) once this process is gone.
    let child = Command::new("bash")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("cargo-lambda-watchdog")
        .arg(program)
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--env-vars")
        .arg(variables.join(","))
        .env("STAND_IN_PARENT_PID", std::process::id().to_string())
        .process_group(0)
        .current_dir(&root)
        .envs(environment.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(copy)
        .spawn()
        .expect("cargo lambda watch starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen on {port}; see .stand-ins/cargo-lambda.log"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Deploys strategy `name` as a release would: its image in ECR, its base config in the configs bucket, a
/// registered MLflow version tagged with both (alias `production`), and its task definition (family
/// `strategy-<name>`, container `strategy`) with `environment`. Answers the image URL.
pub async fn deploy_strategy(stack: &Stack, name: &str, base_config: &[u8], environment: &[(&str, String)]) -> String {
    let uri = stack
        .push_image(&format!("strategy-{}", name.to_lowercase()), "1")
        .await;
    let config = stack
        .put_config(&format!("strategies/{name}/base.yaml"), base_config.to_vec())
        .await;
    let image = format!("{uri}:1");
    let versions = crate::mlflow::register(
        name,
        &[&[("ecr_url", image.as_str()), ("config_path", config.as_str())]],
        &[],
    )
    .await;
    let newest = versions.last().copied().expect("a version");
    crate::mlflow::register(name, &[], &[("production", newest)]).await;
    let variables = environment.iter().map(|(name, value)| {
        aws_sdk_ecs::types::KeyValuePair::builder()
            .name(*name)
            .value(value)
            .build()
    });
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("strategy")
        .image(&image)
        .memory(2048)
        .essential(true)
        .set_environment(Some(variables.collect()))
        .build();
    aws_sdk_ecs::Client::new(&stack.sdk)
        .register_task_definition()
        .family(format!("strategy-{name}"))
        .container_definitions(container)
        .send()
        .await
        .expect("task definition");
    image
}
