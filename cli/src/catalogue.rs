//! What can be backtested: the registered strategies and the market data.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::table::{Table, pairs};
use crate::{Context, Failure, exit};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Push a Freqtrade data folder (Feather, JSON or Parquet candles, and markets.json) into the market-data store.
    Push(crate::push::PushArgs),
    /// The candle files in the market-data store.
    List {
        /// Only this exchange's.
        #[arg(long)]
        exchange: Option<String>,
    },
    /// Delete candle files (`PAIRS --timeframe`) and with --markets the markets snapshot of an exchange; a run
    /// that pinned a version still reads it.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The pairs whose candle files to delete (`BTC/USDT ETH/USDT`).
    #[arg(requires = "timeframe")]
    pub pairs: Vec<String>,
    #[arg(long, required = true)]
    pub exchange: String,
    /// The candle files' timeframe.
    #[arg(long)]
    pub timeframe: Option<String>,
    /// The exchange's markets snapshot too.
    #[arg(long)]
    pub markets: bool,
}

/// `DELETE /data/datasets`'s query for `args`.
fn delete_query(args: &DeleteArgs) -> Vec<(&'static str, String)> {
    let mut query = vec![("exchange", args.exchange.clone())];
    if !args.pairs.is_empty() {
        query.push(("pairs", args.pairs.join(",")));
    }
    if let Some(timeframe) = &args.timeframe {
        query.push(("timeframe", timeframe.clone()));
    }
    if args.markets {
        query.push(("markets", "true".to_owned()));
    }
    query
}

#[derive(Debug, Args)]
pub struct FreshnessArgs {
    /// The pairs (`BTC/USDT ETH/USDT`).
    #[arg(required = true)]
    pub pairs: Vec<String>,
    #[arg(long, required = true)]
    pub timeframe: String,
    #[arg(long)]
    pub exchange: Option<String>,
    /// How old the newest candle may be.
    #[arg(long)]
    pub max_age_hours: Option<f64>,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn strategies(context: &Context) -> Result<u8, Failure> {
    let listing = context.api.get("/strategies", &[]).await?;
    context.print(&listing, || {
        let mut table = Table::new(&["strategy", "latest", "aliases", "description"]);
        for strategy in listing["strategies"].as_array().into_iter().flatten() {
            table.row(vec![
                text(&strategy["name"]),
                text(&strategy["latest_version"]),
                aliases(&strategy["aliases"]),
                text(&strategy["description"]),
            ]);
        }
        if table.is_empty() {
            "no strategies registered".to_owned()
        } else {
            table.render()
        }
    });
    Ok(exit::OK)
}

fn aliases(aliases: &Value) -> String {
    aliases
        .as_object()
        .map(|aliases| {
            aliases
                .iter()
                .map(|(alias, version)| format!("{alias}→v{version}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub async fn strategy(context: &Context, name: &str) -> Result<u8, Failure> {
    let detail = context
        .api
        .get(&format!("/strategies/{}", crate::api::encode(name)), &[])
        .await?;
    context.print(&detail, || {
        let head = pairs(&[
            ("strategy", text(&detail["name"])),
            ("description", text(&detail["description"])),
            ("aliases", aliases(&detail["aliases"])),
        ]);
        let mut table = Table::new(&["version", "aliases", "timeframe", "pairs", "image"]);
        for version in detail["versions"].as_array().into_iter().flatten() {
            let tags = &version["tags"];
            let version_aliases: Vec<String> = version["aliases"].as_array().into_iter().flatten().map(text).collect();
            table.row(vec![
                text(&version["version"]),
                version_aliases.join(","),
                text(&tags["timeframe"]),
                text(&tags["pairs"]),
                text(&tags["ecr_url"]),
            ]);
        }
        format!("{head}\n\n{}", table.render())
    });
    Ok(exit::OK)
}

pub async fn data(context: &Context, command: DataCommand) -> Result<u8, Failure> {
    match command {
        DataCommand::Push(args) => crate::push::push(context, args).await,
        DataCommand::Delete(args) => {
            let answer = context
                .api
                .send("DELETE", "/data/datasets", &delete_query(&args), None)
                .await?;
            context.print(&answer, || {
                let list = |name: &str| -> Vec<String> {
                    answer[name]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|key| key.as_str().map(str::to_owned))
                        .collect()
                };
                let (deleted, missing) = (list("deleted"), list("missing"));
                let mut lines = vec![format!("deleted {} of {}", deleted.len(), args.exchange)];
                lines.extend(deleted.iter().map(|key| format!("  {key}")));
                if !missing.is_empty() {
                    lines.push(format!("not there: {}", missing.join(", ")));
                }
                lines.join("\n")
            });
            Ok(exit::OK)
        }
        DataCommand::List { exchange } => {
            let query: Vec<(&str, String)> = exchange.into_iter().map(|name| ("exchange", name)).collect();
            let listing = context.api.get("/data/datasets", &query).await?;
            context.print(&listing, || {
                let mut table = Table::new(&["exchange", "pair", "timeframe", "mode", "size (KiB)", "modified"]);
                for dataset in listing["datasets"].as_array().into_iter().flatten() {
                    table.row(vec![
                        text(&dataset["exchange"]),
                        text(&dataset["symbol"]),
                        text(&dataset["timeframe"]),
                        text(&dataset["trading_mode"]),
                        format!("{:.1}", dataset["size_bytes"].as_f64().unwrap_or_default() / 1024.0),
                        text(&dataset["last_modified"]),
                    ]);
                }
                if table.is_empty() {
                    "no market data".to_owned()
                } else {
                    table.render()
                }
            });
            Ok(exit::OK)
        }
    }
}

pub async fn freshness(context: &Context, args: FreshnessArgs) -> Result<u8, Failure> {
    let mut body = json!({"symbols": args.pairs, "timeframe": args.timeframe});
    if let Some(exchange) = args.exchange {
        body["exchange"] = json!(exchange);
    }
    if let Some(hours) = args.max_age_hours {
        body["max_age_hours"] = json!(hours);
    }
    let report = context.api.post("/data/freshness", &body).await?;
    context.print(&report, || {
        let mut table = Table::new(&["pair", "fresh", "last candle", "age (h)", "rows"]);
        for (pair, answer) in report["symbols"].as_object().into_iter().flatten() {
            let fresh = if answer["is_fresh"] == true { "yes" } else { "no" };
            match answer["error"].as_str() {
                Some(error) => table.row(vec![pair.clone(), fresh.to_owned(), error.to_owned()]),
                None => table.row(vec![
                    pair.clone(),
                    fresh.to_owned(),
                    text(&answer["last_candle"]),
                    answer["age_hours"]
                        .as_f64()
                        .map_or_else(|| "-".to_owned(), |hours| format!("{hours:.1}")),
                    text(&answer["row_count"]),
                ]),
            }
        }
        format!(
            "{} {} (at most {} h old)\n\n{}",
            text(&report["exchange"]),
            text(&report["timeframe"]),
            text(&report["max_age_hours"]),
            table.render()
        )
    });
    Ok(exit::OK)
}
