//! `tradai`: see `tradai --help`, and the README's session.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = tradai_cli::Cli::parse();
    // The local stack's own parts log through tracing; RUST_LOG=info shows them.
    let _subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    std::process::ExitCode::from(tradai_cli::run(cli).await)
}
