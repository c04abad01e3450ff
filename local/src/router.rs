//! The router: one loopback endpoint for every AWS call of ours and of moto's Step Functions engine, dispatched by a
//! route table ([`ROUTES`]): Lambda Invoke goes to `cargo lambda watch` (with the translation to Lambda's own answer:
//! a function error is HTTP 200 with `X-Amz-Function-Error: Unhandled`); the ECS operations the local ECS serves go
//! there; a StopExecution goes to moto and then also stops the ECS task of that execution (tagged with its run id,
//! which names the execution) and fires the template's rules on ended executions, as AWS does; everything else goes
//! to moto.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use crate::Error;
use crate::calls::Recorder;
use crate::ecs::LocalEcs;
use crate::template::Template;

/// What a request names, by which the route table dispatches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    /// The request path starts with this.
    PathPrefix(&'static str),
    /// The `X-Amz-Target` header (the JSON protocols' operation) starts with this.
    TargetPrefix(&'static str),
}

/// Where a matched request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Lambda Invoke: the function binaries.
    Functions,
    /// ECS: the local ECS, for the operations it serves (moto for the rest).
    LocalEcs,
    /// Step Functions StopExecution: moto, then what AWS does around it.
    StopExecution,
}

/// The route table, first match wins; a request no route matches goes to moto.
pub const ROUTES: [(Matcher, Destination); 3] = [
    (Matcher::PathPrefix("/2015-03-31/functions/"), Destination::Functions),
    (Matcher::TargetPrefix(ECS_TARGET), Destination::LocalEcs),
    (Matcher::TargetPrefix(STOP_EXECUTION), Destination::StopExecution),
];

const ECS_TARGET: &str = "AmazonEC2ContainerServiceV20141113.";
const STOP_EXECUTION: &str = "AWSStepFunctions.StopExecution";

/// The destination of a request with `path` and `target` (its `X-Amz-Target`, empty when none), or `None` for moto.
pub fn destination(path: &str, target: &str) -> Option<Destination> {
    ROUTES.iter().find_map(|(matcher, destination)| {
        let matched = match matcher {
            Matcher::PathPrefix(prefix) => path.starts_with(prefix),
            Matcher::TargetPrefix(prefix) => target.starts_with(prefix),
        };
        matched.then_some(*destination)
    })
}

/// Where the router sends what.
pub struct Router {
    template: &'static Template,
    moto_url: String,
    functions_url: String,
    ecs: Arc<LocalEcs>,
    calls: Arc<Recorder>,
    http: reqwest::Client,
}

type Answer = Response<Full<Bytes>>;

impl Router {
    pub fn new(
        template: &'static Template,
        moto_url: String,
        functions_url: String,
        ecs: Arc<LocalEcs>,
        calls: Arc<Recorder>,
    ) -> Result<Self, Error> {
        // A first invocation may wait for cargo to build the function.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .map_err(|error| Error::Start {
                what: "the router's HTTP client".to_owned(),
                source: std::io::Error::other(error),
            })?;
        Ok(Self {
            template,
            moto_url,
            functions_url,
            ecs,
            calls,
            http,
        })
    }

    /// Serves connections on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        crate::serve(listener, move |request, _peer| {
            let router = Arc::clone(&self);
            async move { router.route(request).await }
        })
        .await;
    }

    /// What a RunTask among `calls` implies: IAM checks `iam:PassRole` of its task definition's task and execution
    /// roles for the caller, as it does for RegisterTaskDefinition.
    async fn roles_passed_by(&self, calls: &[crate::calls::Call], body: &[u8]) -> Vec<crate::calls::Call> {
        let Some(run) = calls.iter().find(|call| call.action == "ecs:RunTask") else {
            return Vec::new();
        };
        let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(name) = input["taskDefinition"].as_str() else {
            return Vec::new();
        };
        let Ok(definition) = self.ecs.task_definition(name).await else {
            return Vec::new();
        };
        ["taskRoleArn", "executionRoleArn"]
            .iter()
            .filter_map(|key| definition[*key].as_str())
            .map(|role| crate::calls::Call {
                caller: run.caller.clone(),
                action: "iam:PassRole".to_owned(),
                resource: role.to_owned(),
                context: std::collections::BTreeMap::from([(
                    "iam:PassedToService".to_owned(),
                    "ecs-tasks.amazonaws.com".to_owned(),
                )]),
            })
            .collect()
    }

    async fn route(self: &Arc<Self>, request: Request<Incoming>) -> Answer {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return plain(StatusCode::BAD_REQUEST, &format!("unreadable body: {error}")),
        };
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if self.calls.enabled() {
            let mut calls = crate::calls::describe(&crate::calls::Request {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or_default(),
                headers: &parts.headers,
                body: &body,
            });
            let passed = self.roles_passed_by(&calls, &body).await;
            calls.extend(passed);
            self.calls.record(calls);
        }
        match destination(parts.uri.path(), &target) {
            Some(Destination::Functions) => match invoked_function(parts.uri.path()) {
                Some(function) => self.invoke(&function, body).await,
                None => plain(StatusCode::NOT_FOUND, "not a Lambda Invoke path"),
            },
            Some(Destination::LocalEcs) => {
                let operation = target.trim_start_matches(ECS_TARGET);
                let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                match self.ecs.answer(operation, &input).await {
                    Some(Ok(output)) => json(StatusCode::OK, &output),
                    Some(Err(error)) => json(
                        StatusCode::BAD_REQUEST,
                        &serde_json::json!({"__type": error.code, "message": error.message}),
                    ),
                    None => self.forward(parts, body).await,
                }
            }
            Some(Destination::StopExecution) => self.stop_execution(parts, body).await,
            None => self.forward(parts, body).await,
        }
    }

    /// StopExecution as AWS does it around the call itself: the execution's ECS task is stopped, and the
    /// template's rule on ended executions gets its event (EventBridge delivers it a moment later).
    async fn stop_execution(self: &Arc<Self>, parts: hyper::http::request::Parts, body: Bytes) -> Answer {
        let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let execution_arn = input["executionArn"].as_str().unwrap_or_default().to_owned();
        let answer = self.forward(parts, body).await;
        if answer.status().is_success() {
            if let Some(run_id) = execution_arn.rsplit(':').next() {
                self.ecs.stop_run(run_id, "Execution stopped");
            }
            let router = Arc::clone(self);
            tokio::spawn(async move {
                for (function, payload) in router.template.ended_execution_targets(&execution_arn, "ABORTED") {
                    let answer = router.invoke(&function, Bytes::from(payload)).await;
                    tracing::info!(%function, status = %answer.status(), "rule target invoked for the stopped execution");
                }
            });
        }
        answer
    }

    async fn invoke(&self, function: &str, payload: Bytes) -> Answer {
        let request_id = uuid::Uuid::new_v4().to_string();
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.functions_url);
        let answer = match self.http.post(url).body(payload).send().await {
            Ok(answer) => answer,
            Err(error) => return service_error(&request_id, &format!("cargo lambda watch did not answer: {error}")),
        };
        let status = answer.status();
        let body = answer.bytes().await.unwrap_or_default();
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("x-amzn-RequestId", &request_id)
            .header("X-Amz-Executed-Version", "$LATEST");
        if status.is_success() {
            return response
                .body(Full::new(body))
                .unwrap_or_else(|error| unbuildable(&error));
        }
        // cargo lambda watch answers a function error with 500 and {"errorType","errorMessage"}; Lambda with 200.
        let is_function_error =
            serde_json::from_slice::<Value>(&body).is_ok_and(|error| error["errorType"].is_string());
        if !is_function_error {
            return service_error(&request_id, &String::from_utf8_lossy(&body));
        }
        response = response.header("X-Amz-Function-Error", "Unhandled");
        response
            .body(Full::new(body))
            .unwrap_or_else(|error| unbuildable(&error))
    }

    async fn forward(&self, parts: hyper::http::request::Parts, body: Bytes) -> Answer {
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let url = format!("{}{path}", self.moto_url);
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.http.request(method, url).body(body);
        for (name, value) in &parts.headers {
            if !matches!(
                name.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(error) => {
                return plain(StatusCode::BAD_GATEWAY, &format!("moto did not answer: {error}"));
            }
        };
        let mut response = Response::builder().status(answer.status().as_u16());
        for (name, value) in answer.headers() {
            if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
                response = response.header(name.as_str(), value.as_bytes());
            }
        }
        let body = answer.bytes().await.unwrap_or_default();
        response
            .body(Full::new(body))
            .unwrap_or_else(|error| unbuildable(&error))
    }
}

/// `/2015-03-31/functions/arn%3Aaws%3Alambda%3A...%3Afunction%3Aprepare-config/invocations` → `prepare-config`.
fn invoked_function(path: &str) -> Option<String> {
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned();
    let name = match name.split_once(":function:") {
        // An ARN may end in a version or alias qualifier: the binary is the function itself.
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_owned(),
        None => name,
    };
    Some(name)
}

/// The answer when a response could not be built (a header value it was given is not one).
fn unbuildable(error: &hyper::http::Error) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(format!("the router could not answer: {error}"))));
    *answer.status_mut() = StatusCode::BAD_GATEWAY;
    answer
}

fn json(status: StatusCode, body: &Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-RequestId", uuid::Uuid::new_v4().to_string())
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|error| unbuildable(&error))
}

fn service_error(request_id: &str, message: &str) -> Answer {
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .header("X-Amzn-ErrorType", "ServiceException")
        .body(Full::new(Bytes::from(
            serde_json::json!({ "Message": message }).to_string(),
        )))
        .unwrap_or_else(|error| unbuildable(&error))
}

fn plain(status: StatusCode, message: &str) -> Answer {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(message.to_owned())))
        .unwrap_or_else(|error| unbuildable(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoked_arn_names_its_binary() {
        assert_eq!(
            invoked_function(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aprepare-config/invocations"
            )
            .as_deref(),
            Some("prepare-config")
        );
        assert_eq!(
            invoked_function("/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:mark-failed:live/invocations")
                .as_deref(),
            Some("mark-failed")
        );
        assert_eq!(
            invoked_function("/2015-03-31/functions/health/invocations").as_deref(),
            Some("health")
        );
        assert_eq!(invoked_function("/moto-api/"), None);
    }

    #[test]
    fn the_route_table_sends_each_call_where_it_is_served() {
        let invoke = "/2015-03-31/functions/health/invocations";
        assert_eq!(destination(invoke, ""), Some(Destination::Functions));
        let run_task = "AmazonEC2ContainerServiceV20141113.RunTask";
        assert_eq!(destination("/", run_task), Some(Destination::LocalEcs));
        assert_eq!(
            destination("/", "AWSStepFunctions.StopExecution"),
            Some(Destination::StopExecution)
        );
        for moto in ["AWSStepFunctions.StartExecution", "DynamoDB_20120810.PutItem", ""] {
            assert_eq!(destination("/", moto), None, "{moto}");
        }
    }
}
