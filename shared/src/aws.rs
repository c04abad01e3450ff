//! The AWS SDK configuration every client of a function is built from, once per cold start.

use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, SdkConfig};

use crate::objects::S3Objects;
use crate::settings::AwsSettings;

/// Loads region and credentials the standard way; `AWS_ENDPOINT_URL` (the local stack) wins when set. Every call of
/// every client made from it has the settings' connect, attempt and operation timeouts, and names its caller (the
/// settings' app name) in its User-Agent.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.timeouts.connect)
        .operation_attempt_timeout(settings.timeouts.attempt)
        .operation_timeout(settings.timeouts.operation)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    // A name the SDK refuses (a character outside its set) leaves the call unnamed: it is only who called.
    if let Some(name) = settings.app_name.clone().and_then(|name| AppName::new(name).ok()) {
        loader = loader.app_name(name);
    }
    loader.load().await
}

/// An S3 client; path-style addressing when an endpoint override (the local stack) is set, since it cannot
/// serve bucket subdomains.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

/// The objects of `bucket`, through an S3 client made from `config`.
pub fn s3_objects(config: &SdkConfig, bucket: &str) -> S3Objects {
    S3Objects::new(s3_client(config), bucket)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::settings::SdkTimeouts;

    #[tokio::test]
    async fn every_client_is_built_with_the_timeouts_and_names_its_caller() {
        let settings = AwsSettings {
            endpoint_url: Some("http://127.0.0.1:9".to_owned()),
            timeouts: SdkTimeouts::default(),
            app_name: Some("prepare-config".to_owned()),
        };
        let config = sdk_config(&settings).await;
        assert_eq!(config.app_name().map(AppName::as_ref), Some("prepare-config"));
        let timeouts = config.timeout_config().expect("timeouts are set");
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(Duration::from_secs(20)));
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(60)));
        let s3 = s3_client(&config);
        assert_eq!(
            s3.config().timeout_config().and_then(|t| t.operation_timeout()),
            Some(Duration::from_secs(60))
        );
    }
}
