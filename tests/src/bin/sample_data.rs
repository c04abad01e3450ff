//! `tradai-sample-data DIR [DAYS]`: a Freqtrade data folder of generated candles for trying TradAI without an
//! exchange: DAYS (default 30) of 5m candles up to now for BTC/USDT (Parquet) and ETH/USDT (JSON), and binance's
//! `markets.json` for both. `make demo` pushes it with `tradai data push`.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(folder) = args.next() else {
        eprintln!("usage: tradai-sample-data DIR [DAYS]");
        return std::process::ExitCode::from(2);
    };
    let days = args.next().and_then(|days| days.parse().ok()).unwrap_or(30);
    match tradai_tests::candles::sample_folder(std::path::Path::new(&folder), days) {
        Ok(()) => {
            println!("{days} days of 5m candles for BTC/USDT and ETH/USDT, and markets.json, in {folder}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tradai-sample-data: {folder}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
