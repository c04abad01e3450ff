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

/// An S3 client; path-style addressing when an endpoint override (the local stand-in) is set, since it cannot
/// serve bucket subdomains.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

/// The market-data store and where the candles are in it (`MARKET_DATA_S3_URI`), for the functions that read them.
pub fn market_data(
    settings: &Settings,
    config: &SdkConfig,
) -> Result<(crate::market_data::S3Objects, crate::market_data::DataLocation), crate::settings::SettingsError> {
    let location = settings.market_data()?;
    Ok((
        crate::market_data::S3Objects::new(s3_client(config), &location.bucket),
        location,
    ))
}
