//! The AWS SDK configuration every client of a function is built from, once per cold start.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::objects::S3Objects;
use crate::settings::AwsSettings;

/// Loads region and credentials the standard way; `AWS_ENDPOINT_URL` (the local stack) wins when set.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
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
