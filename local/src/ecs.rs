//! A local ECS for the strategy container: RunTask starts the container's entrypoint as a process, with the
//! environment a local image carries ([`crate::images`]), the task definition's (read from moto) over it and the
//! run's container overrides over both; DescribeTasks
//! reports it as ECS does (RUNNING, then STOPPED with `EssentialContainerExited` and the exit code); StopTask
//! sends SIGTERM and, after the stop timeout, SIGKILL — the way ECS stops a container. A RunTask with a
//! `clientToken` already seen answers with that token's task, as ECS's idempotent RunTask does. A container whose
//! task definition sends its output to awslogs has it shipped to CloudWatch Logs (moto's) as the driver does: a
//! stream `<prefix>/<container>/<task id>` made when the task starts, its lines put as they come and the rest
//! before the task is reported STOPPED. Tests can take
//! Spot capacity away, reclaim a Spot task (`SpotInterruption`), or lose a RunTask's answer.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// What Spot answers when it has no capacity.
pub const NO_SPOT_CAPACITY: &str =
    "Capacity is unavailable at this time. Please try again later or in a different availability zone";

/// An ECS error answer: the `__type` and message of the JSON protocol, sent with HTTP 400.
#[derive(Debug)]
pub struct EcsError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
struct Task {
    arn: String,
    cluster_arn: String,
    task_definition_arn: String,
    container: String,
    started_by: Option<String>,
    tags: Vec<Value>,
    created_at: f64,
    pid: Option<u32>,
    exit_code: Option<i32>,
    stopped_at: Option<f64>,
    stop_code: Option<String>,
    stopped_reason: Option<String>,
    /// `FARGATE_SPOT` or `FARGATE`.
    capacity_provider: &'static str,
}

/// What Spot tells a task it takes back.
pub const SPOT_INTERRUPTION: &str = "Your Spot Task was interrupted.";

/// The tasks this local ECS runs.
pub struct LocalEcs {
    program: PathBuf,
    router_url: String,
    moto_url: String,
    log_dir: PathBuf,
    stop_timeout: Duration,
    http: reqwest::Client,
    tasks: Mutex<HashMap<String, Task>>,
    /// Task definition families for which Spot has no capacity.
    spot_exhausted: Mutex<HashSet<String>>,
    /// Task definition families whose next RunTask starts the task but answers a server error.
    answers_lost: Mutex<HashSet<String>>,
    /// The task each client token started.
    tokens: Mutex<HashMap<String, String>>,
}

impl Task {
    /// Whether the task runs `run_id` (its `run_id` tag, which RunBacktest sets).
    fn runs(&self, run_id: &str) -> bool {
        self.tags
            .iter()
            .any(|tag| tag["key"] == "run_id" && tag["value"] == run_id)
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or_default()
}

impl LocalEcs {
    /// Tasks run `program` (the entrypoint); they reach AWS through `router_url`; task definitions are read from
    /// `moto_url`; each task's output goes to `log_dir/<task id>.log`.
    pub fn new(program: PathBuf, router_url: String, moto_url: String, log_dir: PathBuf) -> Self {
        Self {
            program,
            router_url,
            moto_url,
            log_dir,
            stop_timeout: Duration::from_secs(30),
            http: reqwest::Client::new(),
            tasks: Mutex::new(HashMap::new()),
            spot_exhausted: Mutex::new(HashSet::new()),
            answers_lost: Mutex::new(HashSet::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The next RunTask of task definition `family` starts its task and then answers `ServerException`, as when
    /// ECS's answer is lost: only an idempotent retry (the same client token) avoids a second task.
    pub fn lose_next_run_task_answer_for(&self, family: &str) {
        self.answers_lost
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(family.to_owned());
    }

    /// Spot takes back the capacity of the running Spot task tagged `run_id`: it is stopped with `SpotInterruption`
    /// (SIGTERM, then SIGKILL after the stop timeout). Answers whether there was such a task.
    pub fn reclaim_spot(self: &Arc<Self>, run_id: &str) -> bool {
        let arn = self
            .lock()
            .values()
            .find(|task| task.exit_code.is_none() && task.capacity_provider == "FARGATE_SPOT" && task.runs(run_id))
            .map(|task| task.arn.clone());
        match arn {
            Some(arn) => self.stop_with(&arn, "SpotInterruption", SPOT_INTERRUPTION).is_some(),
            None => false,
        }
    }

    /// The capacity provider and stop code of every task tagged `run_id`, in the order they started.
    pub fn tasks_for(&self, run_id: &str) -> Vec<(String, Option<String>)> {
        let mut tasks: Vec<Task> = self.lock().values().filter(|task| task.runs(run_id)).cloned().collect();
        tasks.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        tasks
            .into_iter()
            .map(|task| (task.capacity_provider.to_owned(), task.stop_code))
            .collect()
    }

    /// From now on, RunTask of task definition `family` on FARGATE_SPOT fails for lack of capacity, as Spot does
    /// at times (for one family, so that other runs of the process are not touched).
    pub fn exhaust_spot_for(&self, family: &str) {
        self.spot_exhausted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(family.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers one ECS operation, or `None` when it is not one this local ECS serves (moto does).
    pub async fn answer(self: &Arc<Self>, operation: &str, body: &Value) -> Option<Result<Value, EcsError>> {
        Some(match operation {
            "RunTask" => self.run_task(body).await,
            "DescribeTasks" => Ok(self.describe_tasks(body)),
            "StopTask" => self.stop_task(body),
            _ => return None,
        })
    }

    /// Sends `operation` of `target` (`AmazonEC2ContainerServiceV20141113`, …) with `body` to moto.
    async fn moto(&self, target: &str, operation: &str, service: &str, body: &Value) -> Result<Value, EcsError> {
        let answer = self
            .http
            .post(&self.moto_url)
            .header("X-Amz-Target", format!("{target}.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/{service}/aws4_request"),
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| EcsError {
                code: "ServerException",
                message: format!("moto did not answer: {error}"),
            })?;
        let ok = answer.status().is_success();
        let answer: Value = answer.json().await.unwrap_or(Value::Null);
        if ok {
            Ok(answer)
        } else {
            Err(EcsError {
                code: "ClientException",
                message: answer["message"].as_str().unwrap_or("moto refused").to_owned(),
            })
        }
    }

    pub(crate) async fn task_definition(&self, name: &str) -> Result<Value, EcsError> {
        let answer = self
            .moto(
                "AmazonEC2ContainerServiceV20141113",
                "DescribeTaskDefinition",
                "ecs",
                &json!({ "taskDefinition": name }),
            )
            .await
            .map_err(|_| EcsError {
                code: "ClientException",
                message: format!("Unable to describe task definition {name}."),
            })?;
        Ok(answer["taskDefinition"].clone())
    }

    /// The environment image `url` carries when it is a local image in the local ECR ([`crate::images`]); none for
    /// any other.
    async fn image_environment(&self, url: &str) -> Vec<(String, String)> {
        let Some(image) = tradai::images::ImageRef::parse(url) else {
            return Vec::new();
        };
        let id = match &image.reference {
            tradai::images::ImageReference::Tag(tag) => json!({"imageTag": tag}),
            tradai::images::ImageReference::Digest(digest) => json!({"imageDigest": digest}),
        };
        let body = json!({"repositoryName": image.repository, "imageIds": [id]});
        let Ok(answer) = self
            .moto("AmazonEC2ContainerRegistry_V20150921", "BatchGetImage", "ecr", &body)
            .await
        else {
            return Vec::new();
        };
        answer["images"][0]["imageManifest"]
            .as_str()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .map(|manifest| crate::images::environment_of(&manifest))
            .unwrap_or_default()
    }

    async fn run_task(self: &Arc<Self>, body: &Value) -> Result<Value, EcsError> {
        let cluster = body["cluster"].as_str().unwrap_or("default");
        let cluster_arn = if cluster.starts_with("arn:") {
            cluster.to_owned()
        } else {
            format!("arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}")
        };
        let cluster_name = cluster_arn.rsplit('/').next().unwrap_or(cluster).to_owned();
        let on_spot = body["capacityProviderStrategy"]
            .as_array()
            .is_some_and(|strategy| strategy.iter().any(|item| item["capacityProvider"] == "FARGATE_SPOT"));
        let family = body["taskDefinition"].as_str().unwrap_or_default();
        let family_name = family.split(':').next().unwrap_or(family).to_owned();
        let token = body["clientToken"].as_str().map(str::to_owned);
        if let Some(token) = &token {
            let started = self
                .tokens
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(token)
                .cloned();
            if let Some(task) = started.and_then(|arn| self.lock().get(&arn).map(describe)) {
                return Ok(json!({"tasks": [task], "failures": []}));
            }
        }
        let exhausted = self
            .spot_exhausted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&family_name);
        if on_spot && exhausted {
            return Ok(json!({"tasks": [], "failures": [{"arn": cluster_arn, "reason": NO_SPOT_CAPACITY}]}));
        }
        let definition = self.task_definition(family).await?;
        let container = &definition["containerDefinitions"][0];
        let container_name = container["name"].as_str().unwrap_or("strategy").to_owned();
        // The router stands in for every AWS endpoint the task reaches.
        let mut environment: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", self.router_url.as_str()),
            // What a task's agent and role give it on AWS: the region and credentials (the local ones).
            ("AWS_REGION", crate::REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        // The image's own environment first: the task definition's and the run's overrides come over it.
        environment.extend(
            self.image_environment(container["image"].as_str().unwrap_or_default())
                .await,
        );
        let pairs = |list: &Value| -> Vec<(String, String)> {
            list.as_array()
                .into_iter()
                .flatten()
                .filter_map(|pair| Some((pair["name"].as_str()?.to_owned(), pair["value"].as_str()?.to_owned())))
                .collect()
        };
        environment.extend(pairs(&container["environment"]));
        if let Some(overrides) = body["overrides"]["containerOverrides"].as_array() {
            for item in overrides.iter().filter(|item| item["name"] == container_name.as_str()) {
                environment.extend(pairs(&item["environment"]));
            }
        }
        // Who the task's calls come from, last so nothing overrides it: its task role, as its credentials say on AWS.
        let role = definition["taskRoleArn"]
            .as_str()
            .and_then(|arn| arn.rsplit('/').next())
            .unwrap_or("none");
        environment.push(("AWS_SDK_UA_APP_ID".to_owned(), format!("task-role.{role}")));

        let id = uuid::Uuid::new_v4().simple().to_string();
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster_name}/{id}");
        let log = self.log_dir.join(format!("{id}.log"));
        // The rest of this process's environment (PATH, HOME, …) as a container's base image would give it.
        let mut variables = tradai::executor::inherited(&tradai::settings::Env::process());
        variables.extend(environment);
        let mut child =
            tradai::executor::start_entrypoint(&self.program, variables, Some(&log)).map_err(|error| EcsError {
                code: "ServerException",
                message: tradai::report::chain(&error),
            })?;
        let task = Task {
            arn: arn.clone(),
            cluster_arn,
            task_definition_arn: definition["taskDefinitionArn"].as_str().unwrap_or(family).to_owned(),
            container: container_name,
            started_by: body["startedBy"].as_str().map(str::to_owned),
            tags: body["tags"].as_array().cloned().unwrap_or_default(),
            created_at: now(),
            pid: child.id(),
            exit_code: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            capacity_provider: if on_spot { "FARGATE_SPOT" } else { "FARGATE" },
        };
        let output = awslogs(container, &id).map(|(group, stream)| Output {
            group,
            stream,
            file: log.clone(),
            shipped: 0,
        });
        let described = describe(&task);
        self.lock().insert(arn.clone(), task);
        if let Some(token) = token {
            self.tokens
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(token, arn.clone());
        }
        let ecs = Arc::clone(self);
        tokio::spawn(async move {
            let mut output = match output {
                Some(output) => ecs.open_stream(output).await,
                None => None,
            };
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status,
                    () = tokio::time::sleep(SHIP_EVERY) => {
                        if let Some(output) = &mut output {
                            ecs.ship(output, false).await;
                        }
                    }
                }
            };
            // Everything the container printed is in its stream before the task is reported STOPPED.
            if let Some(output) = &mut output {
                ecs.ship(output, true).await;
            }
            let code = match status {
                Ok(status) => status
                    .code()
                    .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|signal| 128 + signal)),
                Err(_) => None,
            };
            if let Some(task) = ecs.lock().get_mut(&arn) {
                task.exit_code = code;
                task.stopped_at = Some(now());
                task.stop_code
                    .get_or_insert_with(|| "EssentialContainerExited".to_owned());
                task.stopped_reason
                    .get_or_insert_with(|| "Essential container in task exited".to_owned());
            }
        });
        let lost = self
            .answers_lost
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&family_name);
        if lost {
            return Err(EcsError {
                code: "ServerException",
                message: "Service Unavailable. Please try again later.".to_owned(),
            });
        }
        Ok(json!({"tasks": [described], "failures": []}))
    }

    /// Makes `output`'s stream, as the awslogs driver does when the container starts; `None` (and a warning)
    /// when CloudWatch Logs refuses, as when the task definition names a log group that does not exist.
    async fn open_stream(&self, output: Output) -> Option<Output> {
        let body = json!({"logGroupName": output.group, "logStreamName": output.stream});
        match self.moto("Logs_20140328", "CreateLogStream", "logs", &body).await {
            Ok(_) => Some(output),
            Err(error) => {
                tracing::warn!(group = %output.group, stream = %output.stream, error = %error.message,
                    "the container's output is not shipped");
                None
            }
        }
    }

    /// Puts the lines `output`'s file gained since the last time into its stream: whole lines only, unless
    /// `last` (the container has exited).
    async fn ship(&self, output: &mut Output, last: bool) {
        let Ok(bytes) = std::fs::read(&output.file) else {
            return;
        };
        let fresh = bytes.get(output.shipped..).unwrap_or_default();
        let whole = if last {
            fresh.len()
        } else {
            fresh.iter().rposition(|byte| *byte == b'\n').map_or(0, |end| end + 1)
        };
        if whole == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&fresh[..whole]);
        let at = (now() * 1000.0) as i64;
        let lines: Vec<Value> = text
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| json!({"timestamp": at, "message": line}))
            .collect();
        for batch in lines.chunks(MAX_BATCH) {
            let body = json!({"logGroupName": output.group, "logStreamName": output.stream, "logEvents": batch});
            if let Err(error) = self.moto("Logs_20140328", "PutLogEvents", "logs", &body).await {
                tracing::warn!(stream = %output.stream, error = %error.message, "container output not shipped");
                return;
            }
        }
        output.shipped += whole;
    }

    fn describe_tasks(&self, body: &Value) -> Value {
        let tasks = self.lock();
        let (mut found, mut failures) = (Vec::new(), Vec::new());
        for arn in body["tasks"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            match tasks
                .get(arn)
                .or_else(|| tasks.values().find(|task| task.arn.ends_with(&format!("/{arn}"))))
            {
                Some(task) => found.push(describe(task)),
                None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
            }
        }
        json!({"tasks": found, "failures": failures})
    }

    fn stop_task(self: &Arc<Self>, body: &Value) -> Result<Value, EcsError> {
        let arn = body["task"].as_str().unwrap_or_default();
        let reason = body["reason"].as_str().unwrap_or("Task stopped by user").to_owned();
        self.stop(arn, &reason).ok_or_else(|| EcsError {
            code: "InvalidParameterException",
            message: format!("The referenced task was not found: {arn}"),
        })
    }

    /// Whether a task tagged `run_id` is still running.
    pub fn running_for(&self, run_id: &str) -> bool {
        self.lock()
            .values()
            .any(|task| task.exit_code.is_none() && task.runs(run_id))
    }

    /// Stops the task whose tag `run_id` is `run_id`, as Step Functions stops the task of an execution it stops.
    pub fn stop_run(self: &Arc<Self>, run_id: &str, reason: &str) -> bool {
        let arns: Vec<String> = self
            .lock()
            .values()
            .filter(|task| task.exit_code.is_none())
            .filter(|task| task.runs(run_id))
            .map(|task| task.arn.clone())
            .collect();
        for arn in &arns {
            self.stop(arn, reason);
        }
        !arns.is_empty()
    }

    fn stop(self: &Arc<Self>, arn: &str, reason: &str) -> Option<Value> {
        self.stop_with(arn, "UserInitiated", reason)
    }

    /// Stops task `arn` as ECS does, recording `stop_code` and `reason`.
    fn stop_with(self: &Arc<Self>, arn: &str, stop_code: &str, reason: &str) -> Option<Value> {
        let mut tasks = self.lock();
        let task = tasks.get_mut(arn)?;
        if task.exit_code.is_none() && task.stop_code.is_none() {
            task.stop_code = Some(stop_code.to_owned());
            task.stopped_reason = Some(reason.to_owned());
            if let Some(pid) = task.pid.and_then(|pid| i32::try_from(pid).ok()) {
                signal(pid, nix::sys::signal::Signal::SIGTERM);
                let timeout = self.stop_timeout;
                let ecs = Arc::clone(self);
                let arn = arn.to_owned();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    if ecs.lock().get(&arn).is_some_and(|task| task.exit_code.is_none()) {
                        signal(pid, nix::sys::signal::Signal::SIGKILL);
                    }
                });
            }
        }
        Some(json!({ "task": describe(task) }))
    }
}

fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    // The process may have ended already; then there is nothing to stop.
    let _gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
}

fn describe(task: &Task) -> Value {
    let stopped = task.exit_code.is_some();
    let status = if stopped { "STOPPED" } else { "RUNNING" };
    let desired = if stopped || task.stop_code.is_some() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    let mut container = json!({"name": task.container, "lastStatus": status, "taskArn": task.arn});
    let mut described = json!({"taskArn": task.arn, "clusterArn": task.cluster_arn,
        "taskDefinitionArn": task.task_definition_arn, "lastStatus": status, "desiredStatus": desired,
        "launchType": "FARGATE", "capacityProviderName": task.capacity_provider, "createdAt": task.created_at, "startedAt": task.created_at, "tags": task.tags,
        "containers": []});
    if let Some(started_by) = &task.started_by {
        described["startedBy"] = json!(started_by);
    }
    if stopped {
        container["exitCode"] = json!(task.exit_code);
        described["stoppedAt"] = json!(task.stopped_at);
        described["stopCode"] = json!(task.stop_code);
        described["stoppedReason"] = json!(task.stopped_reason);
    }
    described["containers"] = json!([container]);
    described
}

/// How often a running task's new output is shipped.
const SHIP_EVERY: Duration = Duration::from_millis(500);
/// The most lines one PutLogEvents carries (CloudWatch Logs takes 10 000).
const MAX_BATCH: usize = 5_000;

/// A task's output file and the awslogs stream it is shipped to.
struct Output {
    group: String,
    stream: String,
    file: PathBuf,
    /// How many bytes of the file are in the stream.
    shipped: usize,
}

/// The awslogs group and stream of container definition `container` in task `task_id`, if it logs there.
fn awslogs(container: &Value, task_id: &str) -> Option<(String, String)> {
    let logging = &container["logConfiguration"];
    if logging["logDriver"] != "awslogs" {
        return None;
    }
    let group = logging["options"]["awslogs-group"].as_str()?;
    let prefix = logging["options"]["awslogs-stream-prefix"].as_str()?;
    let name = container["name"].as_str()?;
    Some((
        group.to_owned(),
        tradai::run_logs::awslogs_stream(prefix, name, task_id),
    ))
}
