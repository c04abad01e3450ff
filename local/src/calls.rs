//! Every AWS call that passes the router, as IAM sees it: who made it (the SDK's app name in the User-Agent: a
//! function's name, or what the local ECS names a strategy task), the action (`dynamodb:GetItem`) and the resource
//! ARN it acts on, with the condition keys policies test (`s3:prefix`). What the tests check against each caller's
//! role in the SAM-transformed template.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hyper::HeaderMap;
use serde_json::Value;

use crate::ACCOUNT;

/// The caller the workflow engine's calls carry (moto's Step Functions engine runs with `AWS_SDK_UA_APP_ID` set
/// to it): the state machines' roles.
pub const STATE_MACHINES: &str = "state-machines";

/// One call as IAM authorizes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Call {
    /// The SDK's app name of the caller (`app/<name>` in its User-Agent); none when it named none.
    pub caller: Option<String>,
    /// `service:Action`.
    pub action: String,
    /// The ARN the action is on (`*` for actions without a resource).
    pub resource: String,
    /// The condition keys the request carries that policies test.
    pub context: BTreeMap<String, String>,
}

/// What a request is: its method, path, query, headers and body.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The calls `request` makes (one, or one per object for a batch), with their caller; none for what is not an AWS
/// API call (the stand-in's own API, a Lambda Invoke by the workflow engine without a signature).
pub fn describe(request: &Request<'_>) -> Vec<Call> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let caller = app_name(header("x-amz-user-agent")).or_else(|| app_name(header("user-agent")));
    let Some((region, service)) = scope(header("authorization"), request.query) else {
        return Vec::new();
    };
    let target = header("x-amz-target");
    let operation = target.rsplit('.').next().unwrap_or_default();
    // The JSON protocols' input; S3 (objects of any size), SNS (a form) and Lambda (a payload) are read otherwise.
    let body: Value = match service.as_str() {
        "s3" | "sns" | "lambda" => Value::Null,
        _ => serde_json::from_slice(request.body).unwrap_or(Value::Null),
    };
    let arn = |service: &str, resource: &str| format!("arn:aws:{service}:{region}:{ACCOUNT}:{resource}");
    let one = |action: String, resource: String| vec![(action, resource, BTreeMap::new())];
    let found: Vec<(String, String, BTreeMap<String, String>)> = match service.as_str() {
        "dynamodb" => dynamodb(operation, &body)
            .into_iter()
            .map(|resource| {
                (
                    format!("dynamodb:{operation}"),
                    arn("dynamodb", &resource),
                    BTreeMap::new(),
                )
            })
            .collect(),
        "s3" => s3(request),
        "sqs" => {
            let queue = body["QueueUrl"]
                .as_str()
                .and_then(|url| url.rsplit('/').next())
                .unwrap_or("*");
            one(format!("sqs:{operation}"), arn("sqs", queue))
        }
        "sns" => {
            let form = form(request.body);
            let action = form.get("Action").cloned().unwrap_or_default();
            let topic = form.get("TopicArn").cloned().unwrap_or_else(|| "*".to_owned());
            one(format!("sns:{action}"), topic)
        }
        "states" => {
            let resource = ["stateMachineArn", "executionArn"]
                .iter()
                .find_map(|key| body[*key].as_str())
                .unwrap_or("*");
            one(format!("states:{operation}"), resource.to_owned())
        }
        "ecs" => ecs(operation, &body, &arn),
        "lambda" => {
            let function = request
                .path
                .strip_prefix("/2015-03-31/functions/")
                .and_then(|rest| rest.strip_suffix("/invocations"))
                .map(decode)
                .unwrap_or_else(|| "*".to_owned());
            let resource = if function.starts_with("arn:") {
                function
            } else {
                arn("lambda", &format!("function:{function}"))
            };
            one("lambda:InvokeFunction".to_owned(), resource)
        }
        "ecr" => {
            let repository = body["repositoryName"].as_str().unwrap_or("*");
            let resource = if repository == "*" {
                "*".to_owned()
            } else {
                arn("ecr", &format!("repository/{repository}"))
            };
            one(format!("ecr:{operation}"), resource)
        }
        "logs" => {
            let group = body["logGroupName"].as_str().unwrap_or("*");
            let resource = match body["logStreamName"].as_str() {
                Some(stream) => arn("logs", &format!("log-group:{group}:log-stream:{stream}")),
                None => arn("logs", &format!("log-group:{group}")),
            };
            one(format!("logs:{operation}"), resource)
        }
        "secretsmanager" => {
            let secret = body["SecretId"].as_str().unwrap_or("*");
            let resource = if secret.starts_with("arn:") {
                secret.to_owned()
            } else {
                arn("secretsmanager", &format!("secret:{secret}"))
            };
            one(format!("secretsmanager:{operation}"), resource)
        }
        // The Query protocol: the action and the instance are fields of the form.
        "rds" => {
            let form = form(request.body);
            let action = form.get("Action").cloned().unwrap_or_default();
            let resource = form
                .get("DBInstanceIdentifier")
                .map_or_else(|| "*".to_owned(), |id| arn("rds", &format!("db:{id}")));
            one(format!("rds:{action}"), resource)
        }
        other => {
            let action = if operation.is_empty() {
                form(request.body).get("Action").cloned().unwrap_or_default()
            } else {
                operation.to_owned()
            };
            one(format!("{other}:{action}"), "*".to_owned())
        }
    };
    found
        .into_iter()
        .map(|(action, resource, context)| Call {
            caller: caller.clone(),
            action,
            resource,
            context,
        })
        .collect()
}

/// `app/<name>` of an SDK User-Agent.
fn app_name(agent: &str) -> Option<String> {
    agent
        .split_whitespace()
        .find_map(|part| part.strip_prefix("app/"))
        .map(str::to_owned)
}

/// The region and service a request is signed for: the credential scope of its `Authorization` header, or of
/// `X-Amz-Credential` in a pre-signed URL's query.
fn scope(authorization: &str, query: &str) -> Option<(String, String)> {
    let credential = match authorization.split_once("Credential=") {
        Some((_, rest)) => rest.split([',', ' ']).next().unwrap_or_default().to_owned(),
        None => {
            let value = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))?;
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        }
    };
    let mut parts = credential.split('/').skip(2);
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some((region, service))
}

/// The table (or index) resources of a DynamoDB operation's input: its table, or each table of a batch.
fn dynamodb(operation: &str, body: &Value) -> Vec<String> {
    let table = |name: &str, index: Option<&str>| match index {
        Some(index) => format!("table/{name}/index/{index}"),
        None => format!("table/{name}"),
    };
    match operation {
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .map(|tables| tables.keys().map(|name| table(name, None)).collect())
            .unwrap_or_default(),
        _ => match body["TableName"].as_str() {
            Some(name) => vec![table(name, body["IndexName"].as_str())],
            None => vec!["*".to_owned()],
        },
    }
}

/// An S3 request (path style: `/bucket/key`) as IAM names it.
fn s3(request: &Request<'_>) -> Vec<(String, String, BTreeMap<String, String>)> {
    let path = request.path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (bucket, Some(decode(key))),
        _ => (path.trim_end_matches('/'), None),
    };
    let query: BTreeMap<String, String> = request
        .query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), decode(value)),
            None => (pair.to_owned(), String::new()),
        })
        .collect();
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let versioned = query.contains_key("versionId");
    let call = |action: &str, resource: String| (format!("s3:{action}"), resource, BTreeMap::new());
    match (request.method, key) {
        ("GET" | "HEAD", Some(key)) => {
            vec![call(
                if versioned { "GetObjectVersion" } else { "GetObject" },
                format!("{bucket_arn}/{key}"),
            )]
        }
        ("PUT", Some(key)) => vec![call("PutObject", format!("{bucket_arn}/{key}"))],
        ("DELETE", Some(key)) => {
            vec![call(
                if versioned {
                    "DeleteObjectVersion"
                } else {
                    "DeleteObject"
                },
                format!("{bucket_arn}/{key}"),
            )]
        }
        ("POST", None) if query.contains_key("delete") => deleted_keys(request.body)
            .into_iter()
            .map(|key| call("DeleteObject", format!("{bucket_arn}/{key}")))
            .collect(),
        ("GET", None) if query.contains_key("versions") => vec![call("ListBucketVersions", bucket_arn)],
        ("GET" | "HEAD", None) => {
            let mut context = BTreeMap::new();
            if let Some(prefix) = query.get("prefix") {
                context.insert("s3:prefix".to_owned(), prefix.clone());
            }
            vec![("s3:ListBucket".to_owned(), bucket_arn, context)]
        }
        (method, _) => vec![call(&format!("{method}Bucket"), bucket_arn)],
    }
}

/// The keys of a DeleteObjects request's XML body.
fn deleted_keys(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    text.split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect()
}

/// An ECS operation as IAM names it: RunTask on its task definition (with the cluster it runs in), the task
/// operations on their tasks, the rest on `*`.
fn ecs(
    operation: &str,
    body: &Value,
    arn: &dyn Fn(&str, &str) -> String,
) -> Vec<(String, String, BTreeMap<String, String>)> {
    let action = format!("ecs:{operation}");
    let cluster = body["cluster"].as_str().map(|cluster| {
        if cluster.starts_with("arn:") {
            cluster.to_owned()
        } else {
            arn("ecs", &format!("cluster/{cluster}"))
        }
    });
    let mut context = BTreeMap::new();
    if let Some(cluster) = &cluster {
        context.insert("ecs:cluster".to_owned(), cluster.clone());
    }
    let task_arn = |task: &str| {
        if task.starts_with("arn:") {
            task.to_owned()
        } else {
            let cluster_name = cluster
                .as_deref()
                .and_then(|arn| arn.rsplit('/').next())
                .unwrap_or("default");
            arn("ecs", &format!("task/{cluster_name}/{task}"))
        }
    };
    match operation {
        "RunTask" => {
            let definition = body["taskDefinition"].as_str().unwrap_or("*");
            let resource = if definition.starts_with("arn:") {
                definition.to_owned()
            } else {
                arn("ecs", &format!("task-definition/{definition}"))
            };
            let mut calls = vec![(action, resource, context)];
            // Tags given at launch: IAM also authorizes ecs:TagResource on the new task, with ecs:CreateAction.
            if body["tags"].as_array().is_some_and(|tags| !tags.is_empty()) {
                let cluster_name = cluster
                    .as_deref()
                    .and_then(|arn| arn.rsplit('/').next())
                    .unwrap_or("default");
                let created = BTreeMap::from([("ecs:CreateAction".to_owned(), "RunTask".to_owned())]);
                calls.push((
                    "ecs:TagResource".to_owned(),
                    arn("ecs", &format!("task/{cluster_name}/new-task")),
                    created,
                ));
            }
            calls
        }
        "DescribeTasks" => body["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|task| (action.clone(), task_arn(task), context.clone()))
            .collect(),
        "StopTask" => vec![(action, task_arn(body["task"].as_str().unwrap_or("*")), context)],
        "UpdateService" => {
            let service = body["service"].as_str().unwrap_or("*");
            let resource = if service.starts_with("arn:") {
                service.to_owned()
            } else {
                let cluster_name = cluster
                    .as_deref()
                    .and_then(|arn| arn.rsplit('/').next())
                    .unwrap_or("default");
                arn("ecs", &format!("service/{cluster_name}/{service}"))
            };
            vec![(action, resource, context)]
        }
        // Registering a task definition with roles passes them to ECS's tasks: IAM checks iam:PassRole on each.
        "RegisterTaskDefinition" => {
            let passed = BTreeMap::from([("iam:PassedToService".to_owned(), "ecs-tasks.amazonaws.com".to_owned())]);
            let mut calls = vec![(action, "*".to_owned(), context)];
            calls.extend(
                ["taskRoleArn", "executionRoleArn"]
                    .iter()
                    .filter_map(|key| body[*key].as_str())
                    .map(|role| ("iam:PassRole".to_owned(), role.to_owned(), passed.clone())),
            );
            calls
        }
        _ => vec![(action, "*".to_owned(), context)],
    }
}

/// A form body (`Action=Publish&TopicArn=...`), decoded.
fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (decode(name), decode(&value.replace('+', " "))))
        .collect()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where every process's recorder also writes its calls, a JSON line each (`<pid>.jsonl`), when set: `make test`
/// checks the whole suite's calls after it.
pub const CALLS_DIR: &str = "TRADAI_CALLS_DIR";

/// The calls the router has seen, in order: kept by a deployment for tests, never by one a person runs (`tradai
/// up`), where the list would only grow.
#[derive(Debug)]
pub struct Recorder {
    enabled: bool,
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    /// A recorder that keeps calls when `enabled`, and otherwise keeps none.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            calls: Mutex::default(),
        }
    }

    /// Whether calls are kept: when not, the router need not describe them.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Keeps `calls`, and appends them to this process's file under [`CALLS_DIR`] when it is set.
    pub fn record(&self, calls: Vec<Call>) {
        if !self.enabled || calls.is_empty() {
            return;
        }
        if let Some(folder) = std::env::var_os(CALLS_DIR) {
            let lines: String = calls
                .iter()
                .filter_map(|call| serde_json::to_string(call).ok())
                .map(|line| line + "\n")
                .collect();
            let path = std::path::Path::new(&folder).join(format!("{}.jsonl", std::process::id()));
            // One write of whole lines in append mode: a process that ends mid-test leaves no half line.
            let written = std::fs::create_dir_all(&folder).and_then(|()| {
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?
                    .write_all(lines.as_bytes())
            });
            if let Err(error) = written {
                tracing::warn!(path = %path.display(), %error, "the calls could not be written");
            }
        }
        // A panic elsewhere cannot leave half a push.
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(calls);
    }

    /// Every call written under `folder` by any process (see [`CALLS_DIR`]).
    pub fn read_all(folder: &std::path::Path) -> std::io::Result<Vec<Call>> {
        let mut calls = Vec::new();
        for entry in std::fs::read_dir(folder)? {
            let path = entry?.path();
            if path.extension().is_some_and(|extension| extension == "jsonl") {
                for line in std::fs::read_to_string(&path)?.lines() {
                    calls.push(serde_json::from_str(line).map_err(std::io::Error::other)?);
                }
            }
        }
        Ok(calls)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("a header value"));
        }
        map
    }

    fn signed(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/{service}/aws4_request, SignedHeaders=host, \
             Signature=00"
        )
    }

    fn call(method: &str, path: &str, query: &str, headers: &HeaderMap, body: &str) -> Vec<Call> {
        describe(&Request {
            method,
            path,
            query,
            headers,
            body: body.as_bytes(),
        })
    }

    #[test]
    fn a_dynamodb_call_names_its_caller_table_and_index() {
        let sent = headers(&[
            ("authorization", &signed("dynamodb")),
            ("x-amz-target", "DynamoDB_20120810.Query"),
            (
                "user-agent",
                "aws-sdk-rust/1.3 os/linux lang/rust/1.95 app/list-backtests",
            ),
        ]);
        let calls = call(
            "POST",
            "/",
            "",
            &sent,
            r#"{"TableName":"jobs","IndexName":"status-created_at-index"}"#,
        );
        assert_eq!(
            calls,
            [Call {
                caller: Some("list-backtests".into()),
                action: "dynamodb:Query".into(),
                resource: "arn:aws:dynamodb:us-east-1:123456789012:table/jobs/index/status-created_at-index".into(),
                context: BTreeMap::new(),
            }]
        );
        let batch = headers(&[
            ("authorization", &signed("dynamodb")),
            ("x-amz-target", "DynamoDB_20120810.BatchGetItem"),
        ]);
        let calls = call("POST", "/", "", &batch, r#"{"RequestItems":{"a":{},"b":{}}}"#);
        let resources: Vec<&str> = calls.iter().map(|call| call.resource.as_str()).collect();
        assert_eq!(
            resources,
            [
                "arn:aws:dynamodb:us-east-1:123456789012:table/a",
                "arn:aws:dynamodb:us-east-1:123456789012:table/b"
            ]
        );
        assert_eq!(calls[0].caller, None, "no app name, no caller");
    }

    #[test]
    fn s3_requests_are_named_as_iam_names_them() {
        let sent = headers(&[("authorization", &signed("s3"))]);
        let names = |method: &str, path: &str, query: &str, body: &str| -> Vec<(String, String, Option<String>)> {
            call(method, path, query, &sent, body)
                .into_iter()
                .map(|call| (call.action, call.resource, call.context.get("s3:prefix").cloned()))
                .collect()
        };
        for (method, path, query, action, resource) in [
            (
                "GET",
                "/data/ohlcv/a%20b.parquet",
                "",
                "s3:GetObject",
                "arn:aws:s3:::data/ohlcv/a b.parquet",
            ),
            (
                "GET",
                "/data/k",
                "versionId=v1",
                "s3:GetObjectVersion",
                "arn:aws:s3:::data/k",
            ),
            ("HEAD", "/data/k", "", "s3:GetObject", "arn:aws:s3:::data/k"),
            (
                "PUT",
                "/results/results/x/summary.json",
                "x-id=PutObject",
                "s3:PutObject",
                "arn:aws:s3:::results/results/x/summary.json",
            ),
        ] {
            assert_eq!(
                names(method, path, query, ""),
                [(action.to_owned(), resource.to_owned(), None)],
                "{method} {path}?{query}"
            );
        }
        assert_eq!(
            names("GET", "/results", "list-type=2&prefix=temp%2Fx%2F", ""),
            [(
                "s3:ListBucket".to_owned(),
                "arn:aws:s3:::results".to_owned(),
                Some("temp/x/".to_owned())
            )]
        );
        assert_eq!(
            names("HEAD", "/results", "", ""),
            [("s3:ListBucket".to_owned(), "arn:aws:s3:::results".to_owned(), None)]
        );
        let deleted = names(
            "POST",
            "/configs",
            "delete",
            "<Delete><Object><Key>temp/a</Key></Object><Object><Key>temp/b</Key></Object></Delete>",
        );
        assert_eq!(
            deleted
                .iter()
                .map(|(_, resource, _)| resource.as_str())
                .collect::<Vec<_>>(),
            ["arn:aws:s3:::configs/temp/a", "arn:aws:s3:::configs/temp/b"]
        );
        let presigned = call(
            "PUT",
            "/data/ohlcv/k",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=testing%2F20261207%2Fus-east-1%2Fs3%2Faws4_request",
            &HeaderMap::new(),
            "",
        );
        assert_eq!(presigned.len(), 1, "a pre-signed URL is a call too");
    }

    #[test]
    fn queue_topic_workflow_and_task_calls_name_their_resources() {
        let json_call = |service: &str, target: &str, body: &str| {
            call(
                "POST",
                "/",
                "",
                &headers(&[("authorization", &signed(service)), ("x-amz-target", target)]),
                body,
            )
        };
        let sent = json_call(
            "sqs",
            "AmazonSQS.SendMessage",
            r#"{"QueueUrl":"http://127.0.0.1:1/123456789012/q.fifo"}"#,
        );
        assert_eq!(
            (sent[0].action.as_str(), sent[0].resource.as_str()),
            ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q.fifo")
        );
        let started = json_call(
            "states",
            "AWSStepFunctions.StartExecution",
            r#"{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:m"}"#,
        );
        assert_eq!(
            started[0].resource,
            "arn:aws:states:us-east-1:123456789012:stateMachine:m"
        );
        let ran = json_call(
            "ecs",
            "AmazonEC2ContainerServiceV20141113.RunTask",
            r#"{"cluster":"tradai-local","taskDefinition":"strategy-Ema:3"}"#,
        );
        assert_eq!(
            (
                ran[0].resource.as_str(),
                ran[0].context.get("ecs:cluster").map(String::as_str)
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:task-definition/strategy-Ema:3",
                Some("arn:aws:ecs:us-east-1:123456789012:cluster/tradai-local")
            )
        );
        let published = call(
            "POST",
            "/",
            "",
            &headers(&[("authorization", &signed("sns"))]),
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aalerts&Message=x",
        );
        assert_eq!(
            (published[0].action.as_str(), published[0].resource.as_str()),
            ("sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts")
        );
        let registered = json_call(
            "ecs",
            "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
            r#"{"family":"strategy-Ema","taskRoleArn":"arn:aws:iam::123456789012:role/task"}"#,
        );
        let passed: Vec<(&str, &str, Option<&str>)> = registered
            .iter()
            .map(|call| {
                let service = call.context.get("iam:PassedToService").map(String::as_str);
                (call.action.as_str(), call.resource.as_str(), service)
            })
            .collect();
        assert_eq!(
            passed,
            [
                ("ecs:RegisterTaskDefinition", "*", None),
                (
                    "iam:PassRole",
                    "arn:aws:iam::123456789012:role/task",
                    Some("ecs-tasks.amazonaws.com")
                )
            ],
            "the roles a task definition names are passed to ECS"
        );
        assert!(
            call("GET", "/moto-api/", "", &HeaderMap::new(), "").is_empty(),
            "not an AWS call"
        );
    }
}
