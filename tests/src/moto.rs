//! The moto server the tests talk to: the one named by `AWS_ENDPOINT_URL` (as `make test` starts it), or else one
//! started here, once per test process, that exits with the process.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use tradai_local::moto::Moto;

pub use tradai_local::REGION;

/// The endpoint of a running moto server.
pub fn endpoint() -> &'static str {
    static MOTO: OnceLock<(String, Option<Moto>)> = OnceLock::new();
    let (url, _server) = MOTO.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().trim_end_matches('/').to_owned(), None),
        _ => {
            let moto =
                Moto::start(&[], "moto-tests").unwrap_or_else(|error| panic!("{}", tradai::report::chain(&error)));
            (moto.url.clone(), Some(moto))
        }
    });
    url
}

/// SDK configuration for the tests' moto: its endpoint, a fixed region, dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    tradai_local::moto::sdk_config_for(endpoint()).await
}
