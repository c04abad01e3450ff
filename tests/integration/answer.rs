//! A handler's response, read back as a client sees it, with the checks every response must pass.

use lambda_http::{Body, Response};
use serde_json::Value;

/// Status, headers and JSON body of one response.
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub json: Value,
}

impl Answer {
    pub fn read(response: Response<Body>) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let json = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}")),
            Body::Binary(bytes) => serde_json::from_slice(bytes).expect("body is JSON"),
            Body::Empty => panic!("empty body with status {status}"),
            _ => panic!("unexpected body kind"),
        };
        Answer { status, headers, json }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every response: JSON as `openapi.yaml` documents it for the event's route, the security headers, the
    /// request id echoed.
    pub fn assert_well_formed(&self, event: &Value) {
        let request_id = request_id_of(event);
        let request_id = request_id.as_str();
        let route = event["routeKey"].as_str().expect("the event names its route");
        if let Err(problem) = tradai_tests::openapi::check_response(route, self.status, &self.json) {
            panic!(
                "the answer is not what openapi.yaml documents: {problem}\n{}",
                self.json
            );
        }
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(self.header("x-frame-options"), Some("DENY"));
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert!(
            self.header("strict-transport-security")
                .is_some_and(|v| v.starts_with("max-age="))
        );
        assert!(
            self.header("content-security-policy")
                .is_some_and(|v| v.contains("default-src 'none'"))
        );
        assert_eq!(self.header("x-request-id"), Some(request_id));
        if self.status >= 400 {
            let error = &self.json["error"];
            assert!(
                error["code"].as_str().is_some_and(|c| !c.is_empty()),
                "no error code: {}",
                self.json
            );
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "no error message: {}",
                self.json
            );
        }
    }

    /// A 400 whose details and message name `field`.
    pub fn assert_names_field(&self, field: &str) {
        assert_eq!(self.status, 400, "{}", self.json);
        let error = &self.json["error"];
        assert_eq!(error["code"], "ValidationError");
        let fields: Vec<&str> = error["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{field} not among {fields:?}: {}", self.json);
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(field)),
            "message does not name {field}"
        );
    }
}

/// The API Gateway request id of an event file.
pub fn request_id_of(event: &Value) -> String {
    event["requestContext"]["requestId"]
        .as_str()
        .expect("event has a request id")
        .to_owned()
}
