//! The template's HTTP API on a loopback port, calling the function binaries as API Gateway's HTTP API does with
//! payload format 2.0: each request becomes the event API Gateway would send (route key, raw path and query,
//! lower-cased headers, query parameters and cookies, path parameters, the request context with the caller's IAM
//! identity, the body — base64 when it is not text), and the function's answer becomes the response (a bare JSON
//! answer is a 200 with it as the body, as API Gateway infers). Like API Gateway it answers 404 `Not Found` for a
//! request no route takes, 413 for a body over 10 MB, and 500 `Internal Server Error` when the function fails.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::ACCOUNT;
use crate::functions::Invoker;
use crate::template::Route;

/// The largest request body API Gateway's HTTP API accepts.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The API id local request contexts carry.
const API_ID: &str = "local";

type Answer = Response<Full<Bytes>>;

/// A route matched to a request: the route and the path parameters it bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'a Route,
    pub parameters: BTreeMap<String, String>,
}

/// The route that takes `method` `path`, with its path parameters; `None` when no route does.
pub fn match_route<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<Matched<'a>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    routes.iter().filter(|route| route.method == method).find_map(|route| {
        let pattern: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut parameters = BTreeMap::new();
        for (want, got) in pattern.iter().zip(&segments) {
            match want.strip_prefix('{').and_then(|name| name.strip_suffix('}')) {
                Some(_) if got.is_empty() => return None,
                Some(name) => {
                    let value = percent_encoding::percent_decode_str(got)
                        .decode_utf8_lossy()
                        .into_owned();
                    parameters.insert(name.to_owned(), value);
                }
                None if want == got => {}
                None => return None,
            }
        }
        Some(Matched { route, parameters })
    })
}

/// What a request carried, as the event is built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Each header as received, in order (names in any case).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

/// The payload 2.0 event API Gateway sends the route's function for `call`, from a caller with IAM identity
/// `caller` (a user or role ARN), with request id `request_id` at `now`.
pub fn event(
    call: &Call,
    matched: &Matched<'_>,
    caller: &str,
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let route_key = format!("{} {}", matched.route.method, matched.route.path);
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &call.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|cookie| Value::from(cookie.trim())));
            continue;
        }
        // Repeated headers are joined with commas, as API Gateway does.
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier},{value}"),
            None => value.clone(),
        };
        headers.insert(name, Value::from(joined));
    }
    let raw_query = call.query.clone().unwrap_or_default();
    let mut query = Map::new();
    for (name, value) in url_pairs(&raw_query) {
        let joined = match query.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier},{value}"),
            None => value,
        };
        query.insert(name, Value::from(joined));
    }
    let text = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_none_or(is_textual)
        .then(|| std::str::from_utf8(&call.body).ok())
        .flatten();
    let (body, base64) = match text {
        Some(text) => (Value::from(text), false),
        None => (Value::from(STANDARD.encode(&call.body)), true),
    };
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::from(""));
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": call.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "authorizer": {"iam": {
                "accessKey": "ASIALOCALACCESSKEY00", "accountId": ACCOUNT, "callerId": "AIDALOCALCALLER00000",
                "cognitoIdentity": null, "principalOrgId": null, "userArn": caller, "userId": "AIDALOCALCALLER00000"
            }},
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": call.method,
                "path": call.path,
                "protocol": "HTTP/1.1",
                "sourceIp": call.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !matched.parameters.is_empty() {
        event["pathParameters"] = json!(matched.parameters);
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::from(cookies);
    }
    if !call.body.is_empty() {
        event["body"] = body;
    }
    event
}

/// Whether a body of `content_type` is passed as text (else base64).
fn is_textual(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media == "application/json"
        || media.ends_with("+json")
        || media == "application/xml"
        || media == "application/x-www-form-urlencoded"
        || media == "application/yaml"
}

/// The decoded name–value pairs of a query string, in order.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The HTTP response for a function's answer: `Ok` with what it returned, `Err` when it failed.
pub fn response(answer: Result<Value, String>, request_id: &str) -> Answer {
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%request_id, %error, "the route's function failed");
            return gateway(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", request_id);
        }
    };
    // A payload 2.0 answer without statusCode is taken as the body of a 200 JSON response.
    let Some(status) = answer.get("statusCode") else {
        return build(
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("apigw-requestid", request_id),
            Bytes::from(answer.to_string()),
            request_id,
        );
    };
    let status = status
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok());
    let Some(status) = status else {
        return gateway(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", request_id);
    };
    let body = match (&answer["body"], answer["isBase64Encoded"].as_bool().unwrap_or(false)) {
        (Value::String(text), true) => match STANDARD.decode(text) {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => return gateway(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", request_id),
        },
        (Value::String(text), false) => Bytes::from(text.clone()),
        (Value::Null, _) => Bytes::new(),
        (other, _) => Bytes::from(other.to_string()),
    };
    let mut builder = Response::builder().status(status).header("apigw-requestid", request_id);
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            builder = builder.header(name, value);
        }
    }
    for cookie in answer["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        builder = builder.header("set-cookie", cookie);
    }
    build(builder, body, request_id)
}

/// API Gateway's own answer: `{"message": ...}` with `status`.
fn gateway(status: StatusCode, message: &str, request_id: &str) -> Answer {
    build(
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("apigw-requestid", request_id),
        Bytes::from(json!({ "message": message }).to_string()),
        request_id,
    )
}

fn build(builder: hyper::http::response::Builder, body: Bytes, request_id: &str) -> Answer {
    builder.body(Full::new(body)).unwrap_or_else(|error| {
        tracing::error!(%request_id, %error, "a response could not be built");
        let mut answer = Response::new(Full::new(Bytes::from_static(
            b"{\"message\":\"Internal Server Error\"}",
        )));
        *answer.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        answer
    })
}

/// The HTTP API: the template's routes, served on a loopback port.
pub struct HttpApi {
    routes: Vec<Route>,
    functions: Invoker,
    caller: String,
}

impl HttpApi {
    /// Serves `routes` by invoking the functions through `functions`, every request made as `caller` (the IAM
    /// identity a signed request would carry).
    pub fn new(routes: Vec<Route>, functions: Invoker, caller: String) -> Self {
        Self {
            routes,
            functions,
            caller,
        }
    }

    /// Serves connections on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        crate::serve(listener, move |request, peer: std::net::SocketAddr| {
            let api = Arc::clone(&self);
            async move { api.answer(request, peer.ip().to_string()).await }
        })
        .await;
    }

    async fn answer(&self, request: Request<Incoming>, source_ip: String) -> Answer {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = request.into_parts();
        let Some(matched) = match_route(&self.routes, parts.method.as_str(), parts.uri.path()) else {
            return gateway(StatusCode::NOT_FOUND, "Not Found", &request_id);
        };
        let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return gateway(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large", &request_id),
        };
        let call = Call {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            source_ip,
        };
        let event = event(&call, &matched, &self.caller, &request_id, chrono::Utc::now());
        let answer = self.functions.invoke(&matched.route.function, &event).await;
        response(answer.map_err(|error| error.to_string()), &request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        [
            ("POST", "/backtest", "submit-backtest"),
            ("GET", "/backtest/{run_id}/status", "get-backtest-status"),
            ("GET", "/backtests", "list-backtests"),
        ]
        .map(|(method, path, function)| Route {
            method: method.into(),
            path: path.into(),
            function: function.into(),
        })
        .to_vec()
    }

    #[test]
    fn a_route_binds_its_path_parameters_and_nothing_else_matches() {
        let routes = routes();
        let matched = match_route(&routes, "GET", "/backtest/abc%2Fd/status").expect("matched");
        assert_eq!(matched.route.function, "get-backtest-status");
        assert_eq!(matched.parameters["run_id"], "abc/d");
        assert!(
            match_route(&routes, "POST", "/backtest/x/status").is_none(),
            "wrong method"
        );
        assert!(
            match_route(&routes, "GET", "/backtest//status").is_none(),
            "empty parameter"
        );
        assert!(match_route(&routes, "GET", "/backtest/x/status/more").is_none());
        assert!(match_route(&routes, "GET", "/nowhere").is_none());
    }

    #[test]
    fn the_event_is_what_api_gateway_sends() {
        let routes = routes();
        let call = Call {
            method: "GET".into(),
            path: "/backtests".into(),
            query: Some("status=QUEUED&limit=2&tag=a&tag=b%20c".into()),
            headers: vec![
                ("Host".into(), "127.0.0.1:9000".into()),
                ("X-Thing".into(), "1".into()),
                ("x-thing".into(), "2".into()),
                ("Cookie".into(), "a=1; b=2".into()),
            ],
            body: Vec::new(),
            source_ip: "127.0.0.1".into(),
        };
        let matched = match_route(&routes, "GET", "/backtests").expect("matched");
        let now = chrono::DateTime::from_timestamp(1_795_500_000, 0).expect("a time");
        let event = event(&call, &matched, "arn:aws:iam::123456789012:user/ada", "r-1", now);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /backtests");
        assert_eq!(event["rawQueryString"], "status=QUEUED&limit=2&tag=a&tag=b%20c");
        assert_eq!(
            event["queryStringParameters"],
            json!({"status": "QUEUED", "limit": "2", "tag": "a,b c"})
        );
        assert_eq!(event["headers"]["x-thing"], "1,2");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["userArn"],
            "arn:aws:iam::123456789012:user/ada"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_795_500_000_000_i64);
        assert!(event.get("body").is_none() && event.get("pathParameters").is_none());
    }

    #[test]
    fn a_binary_body_is_base64_and_a_json_one_text() {
        let routes = routes();
        let matched = match_route(&routes, "POST", "/backtest").expect("matched");
        let mut call = Call {
            method: "POST".into(),
            path: "/backtest".into(),
            query: None,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"a": 1}"#.to_vec(),
            source_ip: "127.0.0.1".into(),
        };
        let now = chrono::Utc::now();
        let text = event(&call, &matched, "arn", "r", now);
        assert_eq!(
            (text["body"].as_str(), text["isBase64Encoded"].as_bool()),
            (Some(r#"{"a": 1}"#), Some(false))
        );
        call.headers = vec![("content-type".into(), "application/octet-stream".into())];
        call.body = vec![0, 159, 146, 150];
        let binary = event(&call, &matched, "arn", "r", now);
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(
            STANDARD.decode(binary["body"].as_str().expect("body")).expect("base64"),
            call.body
        );
    }

    #[test]
    fn answers_become_responses_as_api_gateway_makes_them() {
        let structured = response(
            Ok(
                json!({"statusCode": 202, "headers": {"content-type": "application/json", "x-request-id": "r"},
                "body": "{\"run_id\":\"x\"}", "isBase64Encoded": false, "cookies": ["s=1"]}),
            ),
            "r",
        );
        assert_eq!(structured.status(), StatusCode::ACCEPTED);
        assert_eq!(structured.headers()["x-request-id"], "r");
        assert_eq!(structured.headers()["set-cookie"], "s=1");
        let binary = response(
            Ok(json!({"statusCode": 200, "body": STANDARD.encode([1, 2]), "isBase64Encoded": true})),
            "r",
        );
        assert_eq!(binary.status(), StatusCode::OK);
        let bare = response(Ok(json!({"ok": true})), "r");
        assert_eq!(bare.status(), StatusCode::OK);
        assert_eq!(bare.headers()["content-type"], "application/json");
        let failed = response(Err("panicked".into()), "r");
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let nonsense = response(Ok(json!({"statusCode": "teapot"})), "r");
        assert_eq!(nonsense.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
