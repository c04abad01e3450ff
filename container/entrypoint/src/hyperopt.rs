//! Freqtrade's hyperopt result, as Freqtrade 2026.9 was measured writing it. Hyperopt has no result-directory flag:
//! everything goes to `{userdir}/hyperopt_results/`. Each epoch is appended there as one JSON object per line to
//! `strategy_<Name>_<YYYY-mm-dd_HH-MM-SS>.fthypt`, and `.last_result.json` beside it
//! (`{"latest_hyperopt": "<that file>"}`) is rewritten after every epoch. A killed run therefore leaves a pointer and
//! a partial file too: trust them only after a clean exit. The best epoch is the last line with `"is_best": true`
//! (Freqtrade marks an epoch best when its loss is strictly below the best so far, starting from 100). When no
//! epoch is marked, Freqtrade prints "No good result found" and still exits 0.
//!
//! The lines are written with NaN and ±Infinity allowed (`MaxDrawDownHyperOptLoss` gives a loss of `-Infinity`
//! when there is no drawdown), which is not JSON: those bare tokens are read as text here.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The folder of `{userdir}` where Freqtrade writes hyperopt results (not configurable from the command line).
pub const RESULTS_DIR: &str = "hyperopt_results";

/// The preprocessed candles Freqtrade leaves in [`RESULTS_DIR`] (megabytes; no flag prevents it; it is only
/// removed when the next hyperopt in the same `{userdir}` starts). Neither upload nor keep it.
pub const TICKER_DATA: &str = "hyperopt_tickerdata.pkl";

/// The engine command for `TRADING_MODE=hyperopt` when `ENGINE_COMMAND` does not give one. Besides the
/// placeholders of [`crate::settings::DEFAULT_ENGINE`] it needs `{epochs}` (at least 1), `{hyperopt_loss}` (a loss
/// class name, e.g. `SharpeHyperOptLoss`) and `{random_state}` (a positive integer: Freqtrade treats 0 as unset and
/// draws a random one). The result lands in `{userdir}/hyperopt_results`. `--disable-param-export` keeps Freqtrade
/// from writing `<Name>.json` beside the strategy file, which every later backtest of that strategy would load
/// silently. One worker: the epochs run in the engine's own process, at a third of the memory of `-j 2`.
/// `--ignore-missing-spaces` lets a strategy with only buy (or only sell) parameters run; one with none fails
/// (exit 2). The spaces are separate words: a single `"buy sell"` argument is read as one unknown space.
/// Not hyperopt flags (an unknown flag makes Freqtrade exit 0 with a usage message): `--cache`, `--export`,
/// `--backtest-directory`.
pub const DEFAULT_HYPEROPT_ENGINE: &[&str] = &[
    "freqtrade",
    "hyperopt",
    "--config",
    "{config}",
    "--userdir",
    "{userdir}",
    "--datadir",
    "{datadir}",
    "--strategy",
    "{strategy}",
    "--strategy-path",
    "{strategy_path}",
    "--timeframe",
    "{timeframe}",
    "--timerange",
    "{timerange}",
    "--hyperopt-loss",
    "{hyperopt_loss}",
    "--spaces",
    "buy",
    "sell",
    "--ignore-missing-spaces",
    "--epochs",
    "{epochs}",
    "--job-workers",
    "1",
    "--random-state",
    "{random_state}",
    "--disable-param-export",
    "--print-json",
];

/// What a hyperopt run found: its best epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct HyperoptResult {
    pub strategy: String,
    /// The best epoch's number as Freqtrade counts them (`current_epoch`, from 1).
    pub best_epoch: u64,
    /// The best epoch's loss (lower is better). Never NaN, but it may be −∞ (`MaxDrawDownHyperOptLoss` without
    /// drawdown): JSON cannot carry that, so check `is_finite` before logging it as a metric.
    pub loss: f64,
    /// The best parameters by space, flattened as `<space>.<name>` the way Freqtrade groups them in the parameter
    /// file: `buy.buy_ema_fast`, `sell.sell_ema_slow`, `roi.0`, `stoploss.stoploss`, `trailing.trailing_stop`,
    /// `max_open_trades.max_open_trades`. Only the optimised spaces.
    pub params: BTreeMap<String, Value>,
    /// The best epoch's backtest metrics, by the names of [`tradai::results::METRICS`] (those it carries as finite
    /// numbers).
    pub metrics: BTreeMap<String, f64>,
    /// How many epochs the file holds. It can be fewer than asked: duplicates are skipped, `--early-stop` stops
    /// early, and a SIGINT stops the run with exit 0.
    pub epochs: usize,
    /// The pairs the best epoch traded (Freqtrade drops pairs without data silently).
    pub pairlist: Vec<String>,
}

/// The `.fthypt` file `dir/.last_result.json` names (`dir` is `{userdir}/hyperopt_results`).
pub fn latest_hyperopt(dir: &Path) -> Result<PathBuf, String> {
    let pointer = dir.join(tradai::results::LAST_RESULT);
    let text = std::fs::read(&pointer).map_err(|_| {
        format!(
            "the engine wrote no hyperopt result ({} in {})",
            tradai::results::LAST_RESULT,
            dir.display()
        )
    })?;
    let name = tradai::results::pointed_file(&text, "latest_hyperopt").map_err(|error| error.0)?;
    if !name.ends_with(".fthypt") {
        return Err(format!(".last_result.json names {name}, not a .fthypt file"));
    }
    let file = dir.join(&name);
    if file.is_file() {
        Ok(file)
    } else {
        Err(format!(
            "the hyperopt result {name} named by .last_result.json is missing"
        ))
    }
}

/// Reads a `.fthypt` file of `strategy` and answers its best epoch.
pub fn read_hyperopt(file: &Path, strategy: &str) -> Result<HyperoptResult, String> {
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let opened = std::fs::File::open(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let mut epochs = 0;
    let mut best: Option<(usize, Value)> = None;
    for (index, line) in std::io::BufReader::new(opened).lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|error| format!("cannot read line {number} of {name}: {error}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let epoch = parse_line(&line).map_err(|error| format!("line {number} of {name} is not an epoch: {error}"))?;
        if !epoch.is_object() {
            return Err(format!("line {number} of {name} is not an epoch: not a JSON object"));
        }
        if let Some(version) = epoch.get("fthypt_fileversion")
            && version.as_u64() != Some(2)
        {
            return Err(format!(
                "line {number} of {name} has fthypt_fileversion {version}; only 2 is understood"
            ));
        }
        let is_best = epoch["is_best"]
            .as_bool()
            .ok_or_else(|| format!("line {number} of {name} has no is_best true/false"))?;
        epochs += 1;
        if is_best {
            best = Some((number, epoch));
        }
    }
    if epochs == 0 {
        return Err(format!("the hyperopt result {name} holds no epochs"));
    }
    let Some((line, epoch)) = best else {
        return Err(format!(
            "no good epoch among the {epochs} in {name}: every loss was 100 or more (too few trades, or nothing for \
             the loss function to measure)"
        ));
    };
    let at = |what: &str| format!("the best epoch (line {line} of {name}) {what}");

    let loss = loss(&epoch["loss"]).ok_or_else(|| at("has no numeric loss"))?;
    if loss.is_nan() {
        return Err(at("has a loss of NaN"));
    }
    let best_epoch = epoch["current_epoch"]
        .as_u64()
        .ok_or_else(|| at("has no current_epoch"))?;
    let metrics_section = &epoch["results_metrics"];
    if !metrics_section.is_object() {
        return Err(at("has no results_metrics"));
    }
    let own_file = name.starts_with(format!("strategy_{strategy}_").as_str());
    match metrics_section["strategy_name"].as_str() {
        Some(found) if found == strategy => {}
        Some(found) => {
            return Err(format!(
                "the hyperopt result {name} is for strategy {found}, not {strategy}"
            ));
        }
        None if own_file => {}
        None => {
            return Err(format!(
                "the hyperopt result {name} does not say it is for strategy {strategy}"
            ));
        }
    }

    let mut params = BTreeMap::new();
    let spaces = epoch["params_details"]
        .as_object()
        .ok_or_else(|| at("has no params_details"))?;
    for (space, values) in spaces {
        let values = values
            .as_object()
            .ok_or_else(|| at(&format!("has a params_details.{space} that is not an object")))?;
        for (parameter, value) in values {
            params.insert(format!("{space}.{parameter}"), value.clone());
        }
    }
    let metrics = tradai::results::METRICS
        .iter()
        .filter_map(|metric| Some(((*metric).to_owned(), number(&metrics_section[*metric])?)))
        .collect();
    let pairlist = metrics_section["pairlist"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| pair.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(HyperoptResult {
        strategy: strategy.to_owned(),
        best_epoch,
        loss,
        params,
        metrics,
        epochs,
        pairlist,
    })
}

/// One line as JSON; bare `NaN`, `Infinity` and `-Infinity` (which Freqtrade writes) become strings first.
fn parse_line(line: &str) -> Result<Value, String> {
    match serde_json::from_str(line) {
        Ok(value) => Ok(value),
        Err(error) if line.contains("NaN") || line.contains("Infinity") => {
            serde_json::from_str(&quote_non_finite(line)).map_err(|_| error.to_string())
        }
        Err(error) => Err(error.to_string()),
    }
}

/// Quotes the bare tokens `NaN`, `Infinity` and `-Infinity` that stand outside JSON strings.
fn quote_non_finite(text: &str) -> String {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = TOKENS.iter().find(|token| rest.starts_with(**token)) {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A loss: a number, or the text a non-finite one was quoted as (`-Infinity`, `NaN`).
fn loss(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A metric, whether written as a number or as text; never NaN or infinite.
fn number(value: &Value) -> Option<f64> {
    loss(value).filter(|number| number.is_finite())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/hyperopt");

    fn fixture(case: &str) -> PathBuf {
        latest_hyperopt(&Path::new(FIXTURES).join(case)).expect("the fixture's pointer names its file")
    }

    /// Equal to within a few units in the last place (serde_json's default float parsing is not always exact).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 1e-12
    }

    /// A scratch file holding `text`; removed by the caller's `remove_dir_all` of its folder.
    fn scratch(test: &str, text: &str) -> (PathBuf, PathBuf) {
        let folder = std::env::temp_dir().join(format!("tradai-hyperopt-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("folder");
        let file = folder.join("strategy_EmaCross_2026-01-01_00-00-00.fthypt");
        std::fs::write(&file, text).expect("written");
        (folder, file)
    }

    #[test]
    fn the_best_epoch_is_the_last_one_marked_best() {
        // Epochs 1 and 8 of a real 10-epoch run (both marked best) and epoch 10 (better than 1, not best).
        let read = read_hyperopt(&fixture("sharpe"), "EmaCross").expect("readable");
        assert_eq!(read.best_epoch, 8);
        assert_eq!(read.epochs, 3);
        assert!(close(read.loss, -70821265.49137175), "{}", read.loss);
        let params: Vec<(&str, Value)> = read.params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        assert_eq!(
            params,
            [
                ("buy.buy_ema_fast", json!(11)),
                ("buy.buy_ema_slow", json!(17)),
                ("sell.sell_ema_fast", json!(11)),
                ("sell.sell_ema_slow", json!(21)),
            ]
        );
        assert_eq!(read.metrics["total_trades"], 18.0);
        assert!(
            close(read.metrics["profit_total"], 0.03603583645999999),
            "{:?}",
            read.metrics
        );
        assert_eq!(read.metrics["starting_balance"], 1000.0);
        assert_eq!(read.metrics["sortino"], -100.0);
        assert_eq!(read.metrics.len(), tradai::results::METRICS.len());
        assert_eq!(read.pairlist, ["BTC/USDT", "ETH/USDT"]);
    }

    #[test]
    fn an_infinite_loss_is_read_and_kept_out_of_the_metrics() {
        // MaxDrawDownHyperOptLoss without drawdown: the line holds a bare `-Infinity`.
        let read = read_hyperopt(&fixture("infinite-loss"), "EmaCross").expect("readable");
        assert_eq!(read.loss, f64::NEG_INFINITY);
        assert_eq!(read.best_epoch, 1);
        assert!(read.metrics.values().all(|value| value.is_finite()));
    }

    #[test]
    fn a_run_without_a_good_epoch_is_an_error() {
        // SortinoHyperOptLoss on trades that never lose: every loss is 100, so Freqtrade marks none best.
        let error = read_hyperopt(&fixture("no-good-epoch"), "EmaCross").expect_err("no best epoch");
        assert!(
            error.starts_with("no good epoch among the 2 in strategy_EmaCross_"),
            "{error}"
        );
    }

    #[test]
    fn another_strategys_result_is_refused() {
        let error = read_hyperopt(&fixture("sharpe"), "Other").expect_err("wrong strategy");
        assert!(error.contains("is for strategy EmaCross, not Other"), "{error}");
    }

    #[test]
    fn the_pointer_must_name_a_fthypt_file_in_its_folder() {
        let (folder, _file) = scratch("pointer", "");
        assert!(
            latest_hyperopt(&folder)
                .expect_err("no pointer")
                .contains("wrote no hyperopt result")
        );
        let cases = [
            (
                r#"{"latest_backtest": "backtest-result-1.zip"}"#,
                "names no latest_hyperopt",
            ),
            (
                r#"{"latest_hyperopt": "../strategy_EmaCross_1.fthypt"}"#,
                "names no latest_hyperopt",
            ),
            (
                r#"{"latest_hyperopt": "hyperopt_results.pickle"}"#,
                "not a .fthypt file",
            ),
            (r#"{"latest_hyperopt": "strategy_EmaCross_2.fthypt"}"#, "is missing"),
            ("not json", "names no latest_hyperopt"),
        ];
        for (pointer, problem) in cases {
            std::fs::write(folder.join(".last_result.json"), pointer).expect("written");
            let error = latest_hyperopt(&folder).expect_err(pointer);
            assert!(error.contains(problem), "{pointer}: {error}");
        }
        std::fs::write(
            folder.join(".last_result.json"),
            r#"{"latest_hyperopt": "strategy_EmaCross_2026-01-01_00-00-00.fthypt"}"#,
        )
        .expect("written");
        assert!(latest_hyperopt(&folder).is_ok());
        std::fs::remove_dir_all(folder).ok();
    }

    #[test]
    fn malformed_epochs_are_named_in_one_line() {
        let rest = concat!(
            r#""current_epoch":1,"params_details":{"buy":{"x":1}},"#,
            r#""results_metrics":{"strategy_name":"EmaCross"}"#
        );
        let nan_loss = format!(r#"{{"loss":NaN,"is_best":true,{rest}}}"#);
        let text_loss = format!(r#"{{"loss":"low","is_best":true,{rest}}}"#);
        let cases: [(&str, &str); 12] = [
            ("", "holds no epochs"),
            ("\n\n", "holds no epochs"),
            (
                "not json\n",
                "line 1 of strategy_EmaCross_2026-01-01_00-00-00.fthypt is not an epoch",
            ),
            ("[1, 2]\n", "not a JSON object"),
            (r#"{"loss": 1.0, "is_best": "yes"}"#, "has no is_best true/false"),
            (
                r#"{"loss": 1.0, "is_best": true, "fthypt_fileversion": 1}"#,
                "fthypt_fileversion 1",
            ),
            (&nan_loss, "has a loss of NaN"),
            (&text_loss, "has no numeric loss"),
            (
                r#"{"loss":1.0,"is_best":true,"params_details":{},"results_metrics":{}}"#,
                "has no current_epoch",
            ),
            (
                r#"{"loss":1.0,"is_best":true,"current_epoch":1,"params_details":{}}"#,
                "has no results_metrics",
            ),
            (
                r#"{"loss":1.0,"is_best":true,"current_epoch":1,"params_details":{"buy":3},"results_metrics":{}}"#,
                "params_details.buy that is not an object",
            ),
            (
                r#"{"loss":1.0,"is_best":true,"current_epoch":1,"results_metrics":{"strategy_name":"EmaCross"}}"#,
                "has no params_details",
            ),
        ];
        for (index, (text, problem)) in cases.iter().enumerate() {
            let (folder, file) = scratch(&format!("malformed-{index}"), text);
            let error = read_hyperopt(&file, "EmaCross").expect_err(text);
            assert!(error.contains(problem), "{text}: {error}");
            assert!(!error.contains('\n'), "{error}");
            std::fs::remove_dir_all(folder).ok();
        }
    }

    #[test]
    fn a_result_without_a_strategy_name_is_matched_by_its_file_name() {
        let text = concat!(
            r#"{"loss":-2.5,"is_best":true,"current_epoch":4,"params_details":{"roi":{"0":0.1}},"#,
            r#""results_metrics":{"total_trades":"7","sharpe":NaN}}"#,
            "\n"
        );
        let (folder, file) = scratch("no-strategy-name", text);
        let read = read_hyperopt(&file, "EmaCross").expect("readable");
        assert_eq!(read.params["roi.0"], json!(0.1));
        assert_eq!(read.metrics.get("total_trades"), Some(&7.0));
        assert_eq!(read.metrics.get("sharpe"), None);
        assert!(read_hyperopt(&file, "Other").is_err());
        std::fs::remove_dir_all(folder).ok();
    }

    #[test]
    fn non_finite_tokens_are_quoted_only_outside_strings() {
        assert_eq!(
            quote_non_finite(r#"{"a":NaN,"b":"NaN Infinity","c":[-Infinity,Infinity],"d":"x\"NaN","é":1}"#),
            r#"{"a":"NaN","b":"NaN Infinity","c":["-Infinity","Infinity"],"d":"x\"NaN","é":1}"#
        );
        assert_eq!(loss(&json!("-Infinity")), Some(f64::NEG_INFINITY));
        assert_eq!(number(&json!("-Infinity")), None);
        assert_eq!(number(&json!(3)), Some(3.0));
    }

    #[test]
    fn the_default_command_keeps_the_strategy_folder_clean() {
        assert_eq!(DEFAULT_HYPEROPT_ENGINE[0..2], ["freqtrade", "hyperopt"]);
        assert!(DEFAULT_HYPEROPT_ENGINE.contains(&"--disable-param-export"));
        assert!(!DEFAULT_HYPEROPT_ENGINE.contains(&"--cache"));
    }
}
