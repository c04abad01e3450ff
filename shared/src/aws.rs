//! The AWS SDK configuration every client of a function is built from, once per cold start.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::settings::Settings;

/// Loads region and credentials the standard way; `AWS_ENDPOINT_URL` (the local stand-ins) wins when set.
pub async fn sdk_config(settings: &Settings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &settings.aws_endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}
