//! `tradai`: the platform from a terminal. `tradai up` runs the whole local stack; every other command talks to an
//! HTTP API — the local one, or a deployed stage with SigV4-signed requests — and prints a table, or JSON with
//! `--json`. Exit codes are in [`exit`].

pub mod api;
pub mod backtests;
pub mod catalogue;
pub mod deploy;
pub mod diff;
pub mod exit;
pub mod feather;
pub mod logs;
pub mod markets;
pub mod overrides;
pub mod push;
pub mod register;
pub mod sign;
pub mod smoke;
pub mod stack;
pub mod sweep;
pub mod table;
pub mod watch;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::api::{Api, ApiError};

#[derive(Debug, Parser)]
#[command(
    name = "tradai",
    version,
    about = "Backtests of registered strategies on TradAI Serverless, locally or on AWS.",
    after_help = exit::TABLE
)]
pub struct Cli {
    /// The HTTP API: a deployed stage's URL (requests are SigV4-signed from the AWS credential chain) or the local
    /// one; default: the stack `tradai up` runs.
    #[arg(long, env = "TRADAI_API_URL", global = true)]
    pub api: Option<String>,
    /// The AWS region of a deployed stage (default: from the URL, then the credential chain).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// A stage `tradai deploy` deployed from here (dev, prod): the stage to deploy or destroy, or whose API the
    /// other commands call (its saved `ApiUrl`, signed) when --api is not given.
    #[arg(long, env = "TRADAI_STAGE", global = true)]
    pub stage: Option<String>,
    /// Where `tradai up` keeps the local stack's state.
    #[arg(long, env = "TRADAI_STATE_DIR", default_value = ".tradai", global = true)]
    pub state: PathBuf,
    /// Print the API's JSON answers instead of tables, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the whole local stack (AWS stand-in, MLflow, functions, state machine, local ECS, HTTP API) and run it
    /// until Ctrl-C.
    Up(stack::UpArgs),
    /// Stop the local stack `tradai up --detach` started.
    Down,
    /// Deploy a stage to AWS (`--stage dev|prod`): the account checked, the MLflow image, `sam build` of every
    /// function, `sam deploy` of the built template with samconfig.toml's parameters and yours merged.
    Deploy(deploy::DeployArgs),
    /// Delete a deployed stage's stack (`--stage`); its tables and buckets are kept unless --delete-data.
    Destroy(deploy::DestroyArgs),
    /// Submit a backtest of a registered strategy.
    Submit(backtests::SubmitArgs),
    /// One backtest's status.
    Status { run_id: String },
    /// Watch a backtest until it ends.
    Watch { run_id: String },
    /// Backtests, newest first.
    List(backtests::ListArgs),
    /// Cancel a backtest.
    Cancel { run_id: String },
    /// Run a backtest's exact inputs again (its manifest: image digest, config, candle file versions).
    Rerun(backtests::RerunArgs),
    /// What differs between two backtests: code, config by path, data files and dates, engine, metric deltas.
    Diff(diff::DiffArgs),
    /// What a backtest's strategy container printed.
    Logs(logs::LogsArgs),
    /// A finished backtest's summary and per-pair tables, its equity chart written to a file, its MLflow link.
    Result(backtests::ResultArgs),
    /// The registered strategies.
    Strategies,
    /// One strategy, with its versions (`strategy NAME`), or a release registered (`strategy register DIR`).
    Strategy(StrategyArgs),
    /// The market data: push a data folder (`data push`), list the candle files (`data list`).
    #[command(subcommand)]
    Data(catalogue::DataCommand),
    /// How old each pair's newest candle is.
    Freshness(catalogue::FreshnessArgs),
    /// Sweep a strategy's parameters: one backtest per combination, ranked (`--estimate`: the cost only).
    Sweep(sweep::SweepArgs),
    /// One sweep's progress and leaderboard (`--watch`: until it ends).
    SweepStatus(sweep::SweepStatusArgs),
    /// Cancel a sweep and every unfinished child.
    SweepCancel { sweep_id: String },
    /// Check a stage end to end after a deploy (or the local stack): health, readiness, the sample strategy's image
    /// and registration, candles pushed, a backtest to COMPLETED, its result and chart, a cached answer, a cancel;
    /// the smoke's data removed. Exit code 0 only when every check passed.
    Smoke(smoke::SmokeArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StrategyArgs {
    #[command(subcommand)]
    pub action: Option<StrategyAction>,
    /// The strategy's name.
    #[arg(required = true)]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StrategyAction {
    /// Register a release of the strategy in DIR, from its strategy.yaml (flags override it).
    Register(register::RegisterArgs),
}

/// Why a command stopped: its exit code and what to print.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    /// The API's error body, printed with `--json`.
    pub body: Option<Value>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            body: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure::new(exit::BAD_INPUT, message)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        Failure {
            code: error.exit_code(),
            message: error.to_string(),
            body: error.body().cloned(),
        }
    }
}

/// What every command is given: the API, how to print, and the local stack when the API is its.
#[derive(Debug)]
pub struct Context {
    pub api: Api,
    pub json: bool,
    pub local: Option<stack::Running>,
    /// The deployed stage `--stage` named, when it did.
    pub stage: Option<deploy::stage::DeployedStage>,
}

impl Context {
    /// Prints `value` as JSON with `--json`, else `human`'s text.
    pub fn print(&self, value: &Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            println!("{}", human());
        }
    }
}

/// Runs the command line; answers the exit code.
pub async fn run(cli: Cli) -> u8 {
    let json = cli.json;
    let outcome = match cli.command {
        Command::Up(args) => stack::up(&cli.state, args).await,
        Command::Down => stack::down(&cli.state).await,
        Command::Deploy(args) => {
            deploy::deploy(invocation(&cli.state, cli.stage.as_deref(), cli.region, json), args).await
        }
        Command::Destroy(args) => {
            deploy::destroy(invocation(&cli.state, cli.stage.as_deref(), cli.region, json), args).await
        }
        command => {
            let running = stack::running(&cli.state);
            let deployed = match cli.stage.as_deref() {
                Some(stage) => Some(deploy::stage::DeployedStage::load(&cli.state, stage).ok_or_else(|| {
                    Failure::new(
                        exit::UNREACHABLE,
                        format!(
                            "stage {stage} was not deployed from here ({}): run tradai deploy --stage {stage}, or pass --api",
                            cli.state.display()
                        ),
                    )
                })),
                None => None,
            };
            let target = match deployed {
                Some(Err(failure)) => Err(failure),
                Some(Ok(stage)) => Ok((
                    cli.api.or_else(|| stage.api_url.clone()),
                    cli.region.or_else(|| Some(stage.region.clone())),
                    Some(stage),
                )),
                None => Ok((cli.api, cli.region, None)),
            };
            let connected = match target {
                Ok((api, region, stage)) => connect(api, region, running.as_ref()).await.map(|api| (api, stage)),
                Err(failure) => Err(failure),
            };
            match connected {
                Ok((api, stage)) => {
                    let local = running.filter(|running| running.api_url == api.url());
                    dispatch(
                        &Context {
                            api,
                            json,
                            local,
                            stage,
                        },
                        command,
                    )
                    .await
                }
                Err(failure) => Err(failure),
            }
        }
    };
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            match (&failure.body, json) {
                (Some(body), true) => println!("{}", serde_json::to_string_pretty(body).unwrap_or_default()),
                _ => eprintln!("tradai: {}", failure.message),
            }
            failure.code
        }
    }
}

fn invocation<'a>(
    state: &'a Path,
    stage: Option<&'a str>,
    region: Option<String>,
    json: bool,
) -> deploy::Invocation<'a> {
    deploy::Invocation {
        state,
        stage,
        region,
        json,
    }
}

async fn dispatch(context: &Context, command: Command) -> Result<u8, Failure> {
    match command {
        Command::Submit(args) => backtests::submit(context, args).await,
        Command::Status { run_id } => backtests::status(context, &run_id).await,
        Command::Watch { run_id } => watch::watch(context, &run_id).await,
        Command::List(args) => backtests::list(context, args).await,
        Command::Cancel { run_id } => backtests::cancel(context, &run_id).await,
        Command::Rerun(args) => backtests::rerun(context, args).await,
        Command::Diff(args) => diff::diff(context, args).await,
        Command::Logs(args) => logs::logs(context, args).await,
        Command::Result(args) => backtests::result(context, args).await,
        Command::Strategies => catalogue::strategies(context).await,
        Command::Strategy(StrategyArgs {
            action: Some(StrategyAction::Register(args)),
            ..
        }) => register::register(context, args).await,
        Command::Strategy(StrategyArgs { name, .. }) => {
            catalogue::strategy(context, name.as_deref().unwrap_or_default()).await
        }
        Command::Data(command) => catalogue::data(context, command).await,
        Command::Freshness(args) => catalogue::freshness(context, args).await,
        Command::Sweep(args) => sweep::sweep(context, args).await,
        Command::SweepStatus(args) => sweep::status(context, args).await,
        Command::SweepCancel { sweep_id } => sweep::cancel(context, &sweep_id).await,
        Command::Smoke(args) => smoke::smoke(context, args).await,
        Command::Up(_) | Command::Down | Command::Deploy(_) | Command::Destroy(_) => {
            Err(Failure::new(exit::ERROR, "not an API command"))
        }
    }
}

/// The API to talk to: `--api`/`TRADAI_API_URL`, else the local stack's. A loopback API is the local one and takes
/// no signature; any other is a deployed stage and gets SigV4.
async fn connect(
    api: Option<String>,
    region: Option<String>,
    running: Option<&stack::Running>,
) -> Result<Api, Failure> {
    let url = match api.filter(|url| !url.trim().is_empty()) {
        Some(url) => url,
        None => running.map(|running| running.api_url.clone()).ok_or_else(|| {
            Failure::new(
                exit::UNREACHABLE,
                "no API: start the local stack with `tradai up` (or `make up`), or pass --api URL / set TRADAI_API_URL",
            )
        })?,
    };
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(Failure::bad_input(format!("--api: {url} is not an http(s) URL")));
    }
    let signer = if is_loopback(&url) {
        None
    } else {
        Some(
            sign::Signer::from_environment(&url, region)
                .await
                .map_err(|error| Failure::new(exit::ERROR, error.to_string()))?,
        )
    };
    Ok(Api::new(&url, signer))
}

fn is_loopback(url: &str) -> bool {
    matches!(api::host_name(url), "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_apis_go_unsigned() {
        assert!(is_loopback("http://127.0.0.1:4010"));
        assert!(is_loopback("http://localhost:4010/"));
        assert!(!is_loopback("https://abc123.execute-api.us-east-1.amazonaws.com"));
        assert!(!is_loopback("https://127.0.0.1.example.com"));
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "tradai",
            "submit",
            "EmaCross",
            "--alias",
            "production",
            "--pairs",
            "BTC/USDT,ETH/USDT",
            "--timeframe",
            "5m",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--override",
            "max_open_trades=3",
            "--watch",
        ])
        .expect("parses");
        let Command::Submit(args) = cli.command else {
            panic!("a submit")
        };
        assert_eq!(args.pairs, ["BTC/USDT", "ETH/USDT"]);
        assert!(args.watch);
        assert!(
            Cli::try_parse_from([
                "tradai",
                "submit",
                "EmaCross",
                "--version",
                "2",
                "--alias",
                "production"
            ])
            .is_err()
        );
    }
}
