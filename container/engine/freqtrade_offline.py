"""Runs Freqtrade with the exchange's markets read from a snapshot instead of the exchange's API.

Usage: python freqtrade_offline.py <freqtrade arguments>

Freqtrade loads the exchange's markets over the network at every start and cannot be told not to (ENGINE.md).
This launcher replaces ccxt's market loading with the snapshot `markets.json` found in the `--datadir` folder
(a JSON list of ccxt market entries), so a backtest runs without a network and repeats exactly, then hands over
to Freqtrade's own main with the same arguments. Without a snapshot it changes nothing.
"""

import json
import os
import sys


def snapshot_path(arguments: list[str]) -> str | None:
    for flag in ("--datadir", "--data-dir"):
        if flag in arguments:
            index = arguments.index(flag)
            if index + 1 < len(arguments):
                path = os.path.join(arguments[index + 1], "markets.json")
                return path if os.path.isfile(path) else None
    return None


def install(markets: list[dict]) -> None:
    import ccxt
    import ccxt.async_support

    def load_markets(self, reload=False, params=None):  # noqa: ARG001
        self.set_markets(markets, None)
        return self.markets

    async def load_markets_helper(self, reload=False, params=None):  # noqa: ARG001
        self.set_markets(markets, None)
        return self.markets

    ccxt.Exchange.load_markets = load_markets
    ccxt.async_support.Exchange.load_markets_helper = load_markets_helper


def main() -> int:
    arguments = sys.argv[1:]
    path = snapshot_path(arguments)
    if path:
        with open(path, encoding="utf-8") as file:
            install(json.load(file))
    from freqtrade.main import main as freqtrade_main

    sys.argv = ["freqtrade", *arguments]
    return freqtrade_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
