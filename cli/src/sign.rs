//! SigV4 for a deployed stage: its routes use IAM authorization, so every request is signed for `execute-api` with
//! credentials from the standard AWS chain (environment, profiles, SSO, process, instance roles).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The service name API Gateway's IAM authorization checks signatures for.
pub const SERVICE: &str = "execute-api";

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "no AWS credentials for signing requests to {api}: configure a profile (aws configure / aws sso login) or set AWS_PROFILE"
    )]
    NoCredentials {
        api: String,
        #[source]
        source: aws_credential_types::provider::error::CredentialsError,
    },
    #[error("no AWS region for signing requests to {0}: pass --region or set AWS_REGION")]
    NoRegion(String),
    #[error("the request cannot be signed")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Signs requests with the credentials of the standard chain, for one region.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

/// One request as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct Unsigned<'a> {
    pub method: &'a str,
    /// The full URL, query included.
    pub url: &'a str,
    /// The headers that are sent and signed (`host` is taken from the URL).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl Signer {
    /// The standard chain's credentials; `region` (else the chain's region) names the stage's region.
    pub async fn from_environment(api: &str, region: Option<String>) -> Result<Signer, SignError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(ToString::to_string)
            .or_else(|| region_of(api))
            .ok_or_else(|| SignError::NoRegion(api.to_owned()))?;
        let credentials = config.credentials_provider().ok_or_else(|| SignError::NoCredentials {
            api: api.to_owned(),
            source: aws_credential_types::provider::error::CredentialsError::not_loaded("no credentials provider"),
        })?;
        Ok(Signer { credentials, region })
    }

    /// The headers that sign `request` now: `authorization`, `x-amz-date` and, for temporary credentials,
    /// `x-amz-security-token`.
    pub async fn headers(&self, api: &str, request: Unsigned<'_>) -> Result<Vec<(String, String)>, SignError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|source| SignError::NoCredentials {
                api: api.to_owned(),
                source,
            })?;
        signature_headers(&credentials, &self.region, SERVICE, SystemTime::now(), request)
    }
}

/// The SigV4 headers for `request` signed with `credentials` for `service` in `region` at `time`.
pub fn signature_headers(
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    request: Unsigned<'_>,
) -> Result<Vec<(String, String)>, SignError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| SignError::Signing(Box::new(error)))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|error| SignError::Signing(Box::new(error)))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|error| SignError::Signing(Box::new(error)))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// The region in an API Gateway URL (`https://abc123.execute-api.eu-west-1.amazonaws.com`).
pub fn region_of(api: &str) -> Option<String> {
    let mut labels = crate::api::host_name(api).split('.');
    labels.find(|label| *label == "execute-api")?;
    labels.next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// AWS's published SigV4 test suite: its credentials, 2015-08-30T12:36:00Z, region us-east-1, service
    /// `service`, host example.amazonaws.com.
    fn suite_credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "aws-sigv4-test-suite",
        )
    }

    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn authorization(method: &str) -> (String, Vec<(String, String)>) {
        let headers = signature_headers(
            &suite_credentials(),
            "us-east-1",
            "service",
            suite_time(),
            Unsigned {
                method,
                url: "https://example.amazonaws.com/",
                headers: &[("host", "example.amazonaws.com")],
                body: b"",
            },
        )
        .expect("the suite's request signs");
        let authorization = headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .map(|(_, value)| value.clone())
            .expect("an authorization header");
        (authorization, headers)
    }

    #[test]
    fn get_vanilla_signs_as_the_aws_test_suite_says() {
        let (authorization, headers) = authorization("GET");
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(headers.contains(&("x-amz-date".to_owned(), "20150830T123600Z".to_owned())));
    }

    #[test]
    fn post_vanilla_signs_as_the_aws_test_suite_says() {
        let (authorization, _) = authorization("POST");
        assert!(
            authorization.ends_with("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            "{authorization}"
        );
    }

    #[test]
    fn temporary_credentials_send_their_session_token_and_sign_it() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("the-token".to_owned()), None, "sso");
        let headers = signature_headers(
            &credentials,
            "eu-west-1",
            SERVICE,
            suite_time(),
            Unsigned {
                method: "POST",
                url: "https://abc123.execute-api.eu-west-1.amazonaws.com/backtest",
                headers: &[("content-type", "application/json")],
                body: br#"{"strategy_name":"EmaCross"}"#,
            },
        )
        .expect("signs");
        assert!(headers.contains(&("x-amz-security-token".to_owned(), "the-token".to_owned())));
        let authorization = &headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .expect("authorization")
            .1;
        assert!(
            authorization.contains("/20150830/eu-west-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert!(authorization.contains("x-amz-security-token"), "{authorization}");
    }

    #[test]
    fn the_region_is_read_from_an_api_gateway_url() {
        assert_eq!(
            region_of("https://abc123.execute-api.eu-west-1.amazonaws.com/prod").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("http://127.0.0.1:4010"), None);
    }
}
