//! The HTTP API client: the local one (`tradai up`) or a deployed stage, whose requests are SigV4-signed. Every
//! answer is JSON; a refusal is the API's `{"error": {code, message, details}}`, kept whole.

use std::time::Duration;

use serde_json::Value;

use crate::exit;
use crate::sign::{Signer, Unsigned};

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the API at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{}", refusal(*status, body))]
    Refused { status: u16, body: Value },
    #[error("the API answered HTTP {status}: {}", message_of(body))]
    Server { status: u16, body: Value },
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
}

impl ApiError {
    /// The exit code this error ends the command with.
    pub fn exit_code(&self) -> u8 {
        match self {
            ApiError::Unreachable { .. } => exit::UNREACHABLE,
            ApiError::Refused { .. } => exit::BAD_INPUT,
            ApiError::Server { .. } | ApiError::Sign(_) => exit::ERROR,
        }
    }

    /// The API's error body, when it answered one.
    pub fn body(&self) -> Option<&Value> {
        match self {
            ApiError::Refused { body, .. } | ApiError::Server { body, .. } => Some(body),
            ApiError::Unreachable { .. } | ApiError::Sign(_) => None,
        }
    }
}

fn message_of(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .or_else(|| body["message"].as_str())
        .map_or_else(|| body.to_string(), str::to_owned)
}

/// A refusal as one line: the message, then each field the API named.
fn refusal(status: u16, body: &Value) -> String {
    let mut line = format!("refused (HTTP {status}): {}", message_of(body));
    if let Some(details) = body["error"]["details"].as_array() {
        for detail in details {
            if let (Some(field), Some(message)) = (detail["field"].as_str(), detail["message"].as_str()) {
                let named = format!("{field}: {message}");
                if !line.contains(&named) {
                    line.push_str(&format!("; {named}"));
                }
            }
        }
    }
    line
}

/// The API at one base URL.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    signer: Option<Signer>,
}

impl Api {
    /// The API at `base`; requests are signed by `signer` when there is one (a deployed stage).
    pub fn new(base: &str, signer: Option<Signer>) -> Api {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("tradai/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            http,
            signer,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ApiError> {
        self.send("GET", path, query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send("POST", path, &[], Some(body)).await
    }

    /// Sends one request; answers the JSON body of a 2xx.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            let encoded: Vec<String> = query
                .iter()
                .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
                .collect();
            url = format!("{url}?{}", encoded.join("&"));
        }
        let payload = body.map(Value::to_string).unwrap_or_default().into_bytes();
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(signer) = &self.signer {
            let unsigned_headers = [("host", authority(&url)), ("content-type", "application/json")];
            headers.extend(
                signer
                    .headers(
                        &self.base,
                        Unsigned {
                            method,
                            url: &url,
                            headers: &unsigned_headers,
                            body: &payload,
                        },
                    )
                    .await?,
            );
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.http.request(method, &url);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if body.is_some() {
            request = request.body(payload);
        }
        let response = request.send().await.map_err(|error| ApiError::Unreachable {
            url: self.base.clone(),
            reason: reason_of(&error),
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|error| ApiError::Unreachable {
            url: self.base.clone(),
            reason: reason_of(&error),
        })?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match status {
            200..=299 => Ok(body),
            400..=499 => Err(ApiError::Refused { status, body }),
            _ => Err(ApiError::Server { status, body }),
        }
    }
}

impl Api {
    /// The bytes at a pre-signed `url` (the link carries its own signature: nothing is added to it).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, ApiError> {
        let unreachable = |error: reqwest::Error| ApiError::Unreachable {
            url: authority(url).to_owned(),
            reason: reason_of(&error),
        };
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(unreachable)?;
        match status {
            200..=299 => Ok(bytes.to_vec()),
            _ => Err(ApiError::Server {
                status,
                body: Value::String(String::from_utf8_lossy(&bytes).chars().take(300).collect()),
            }),
        }
    }
}

/// The innermost reason, which says what happened (connection refused, a timeout, DNS).
fn reason_of(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

/// The URL's authority, as the `host` header carries it: `example.com:8443`, `127.0.0.1:4010`, `[::1]:4010`.
pub fn authority(url: &str) -> &str {
    url.split_once("://")
        .map_or("", |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
}

/// The URL's host name, without its port: `example.com`, `127.0.0.1`, `[::1]`.
pub fn host_name(url: &str) -> &str {
    let authority = authority(url);
    match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept), as SigV4's canonical query expects.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refusal_names_every_field() {
        let body = json!({"error": {"code": "VALIDATION_ERROR", "message": "config.timeframe: unknown timeframe",
            "details": [{"field": "config.timeframe", "message": "unknown timeframe"},
                        {"field": "config.symbols", "message": "at least one symbol"}]}});
        let error = ApiError::Refused { status: 400, body };
        assert_eq!(
            error.to_string(),
            "refused (HTTP 400): config.timeframe: unknown timeframe; config.symbols: at least one symbol"
        );
        assert_eq!(error.exit_code(), exit::BAD_INPUT);
    }

    #[test]
    fn a_url_names_its_authority_and_host() {
        assert_eq!(authority("http://127.0.0.1:4010/backtest?x=1"), "127.0.0.1:4010");
        assert_eq!(host_name("http://127.0.0.1:4010/backtest"), "127.0.0.1");
        assert_eq!(
            host_name("https://abc.execute-api.eu-west-1.amazonaws.com/prod"),
            "abc.execute-api.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            (host_name("http://[::1]:4010"), host_name("http://[::1]")),
            ("[::1]", "[::1]")
        );
    }

    #[test]
    fn query_components_are_percent_encoded() {
        assert_eq!(
            encode("arn:aws:iam::1:user/ada b"),
            "arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fada%20b"
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let api = Api::new(&format!("http://127.0.0.1:{port}"), None);
        let error = api.get("/health", &[]).await.expect_err("nothing answers");
        assert_eq!(error.exit_code(), exit::UNREACHABLE, "{error}");
    }
}
