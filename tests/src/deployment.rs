//! The local deployment the workflow tests share: started once per test process, on a runtime of its own that
//! lives as long as the process (its router, local ECS and event source mapping run there).

use std::sync::OnceLock;

use tradai_local::{Deployment, DeploymentOptions};

use crate::stack::Stack;

/// How much shorter retry waits are here than on AWS (moto's engine sleeps the scaled interval).
const RETRY_SCALE: f64 = 0.01;

/// The deployment, started on first use.
pub fn shared() -> &'static Deployment {
    static DEPLOYMENT: OnceLock<Deployment> = OnceLock::new();
    DEPLOYMENT.get_or_init(start)
}

/// The deployment's resources, with clients for the calling runtime.
pub trait DeploymentStack {
    fn stack(&self) -> impl std::future::Future<Output = Stack> + Send;
}

impl DeploymentStack for Deployment {
    async fn stack(&self) -> Stack {
        Stack::of(&self.resources, self.sdk_config().await)
    }
}

fn start() -> Deployment {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("local-deployment".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the local deployment");
            runtime.block_on(async move {
                crate::capture_logs();
                let options = DeploymentOptions {
                    retry_scale: RETRY_SCALE,
                    record_calls: true,
                    ..DeploymentOptions::new(crate::mlflow::endpoint())
                };
                let started = Deployment::start(options).await;
                let failed = started.is_err();
                sender.send(started).expect("the local deployment is awaited");
                if !failed {
                    // The router and the local ECS live on this runtime for the rest of the process.
                    std::future::pending::<()>().await;
                }
            });
        })
        .expect("the local deployment's thread");
    receiver
        .recv()
        .expect("the local deployment started")
        .unwrap_or_else(|error| panic!("{}", tradai::report::chain(&error)))
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
        .task_role_arn(tradai_local::deployment::strategy_task_role_arn("local"))
        .container_definitions(container)
        .send()
        .await
        .expect("task definition");
    image
}

/// `method path` with JSON `body` through the shared deployment's HTTP API, as a client would call it: the status
/// and the body (JSON, or the text when it is not).
pub async fn call(method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", shared().api_url);
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("the HTTP API answers");
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A `tradai` state folder `state` recording `local` as the running local stack, as `tradai up` records itself:
/// the CLI run with `--state state` talks to it.
pub fn stack_record(local: &Deployment, state: &std::path::Path) {
    std::fs::create_dir_all(state).expect("state folder");
    let running = tradai_cli::stack::Running {
        pid: std::process::id(),
        api_url: local.api_url.clone(),
        mlflow_url: crate::mlflow::endpoint().to_owned(),
        aws_endpoint: local.endpoint.clone(),
        state_machine_arn: local.state_machine_arn.clone(),
        started_at: chrono::Utc::now().to_rfc3339(),
    };
    std::fs::write(state.join("stack.json"), serde_json::to_string(&running).expect("JSON")).expect("stack record");
}

/// The sample strategy (container/engine) copied to `folder` as a strategy of its own named `name`.
pub fn own_strategy(folder: &std::path::Path, name: &str) {
    std::fs::create_dir_all(folder).expect("strategy folder");
    let engine = crate::project_root().join("container/engine");
    let code = std::fs::read_to_string(engine.join("EmaCross.py")).expect("EmaCross.py");
    std::fs::write(
        folder.join(format!("{name}.py")),
        code.replace("class EmaCross(", &format!("class {name}(")),
    )
    .expect("strategy code");
    std::fs::copy(engine.join("config.yaml"), folder.join("config.yaml")).expect("base config");
    let manifest = std::fs::read_to_string(engine.join("strategy.yaml")).expect("strategy.yaml");
    std::fs::write(
        folder.join("strategy.yaml"),
        manifest.replace("name: EmaCross", &format!("name: {name}")),
    )
    .expect("manifest");
}
