//! Support for the integration tests and the demo: the AWS stand-in, fresh resources made from `template.yaml`,
//! the template itself, and the sample events.

pub mod candles;
pub mod emulator;
pub mod events;
pub mod mlflow;
pub mod network;
pub mod stack;
pub mod template;

use std::path::PathBuf;

/// The project's root folder.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the project root")
        .to_path_buf()
}
