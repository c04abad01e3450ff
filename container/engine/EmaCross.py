"""A pandas-only EMA-cross strategy (no TA-Lib), used to exercise the engine in tests.

It enters when the fast EMA crosses above the slow one and exits when it crosses back below. The four EMA lengths
are hyperopt parameters (`buy` space for the entry, `sell` space for the exit); their defaults (8 and 21) are the
strategy's fixed behaviour, so a backtest without a parameter file trades exactly as before. Note that Freqtrade
loads `EmaCross.json` beside this file, when there is one (hyperopt writes it unless `--disable-param-export`).
"""

from pandas import DataFrame

from freqtrade.strategy import IntParameter, IStrategy


class EmaCross(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {"0": 0.02}
    stoploss = -0.05
    startup_candle_count = 30

    buy_ema_fast = IntParameter(4, 15, default=8, space="buy")
    buy_ema_slow = IntParameter(16, 50, default=21, space="buy")
    sell_ema_fast = IntParameter(4, 15, default=8, space="sell")
    sell_ema_slow = IntParameter(16, 50, default=21, space="sell")

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # In hyperopt `.range` is every value of the space (indicators are computed once, before the epochs);
        # otherwise it is just the parameter's value.
        spans = set()
        for parameter in (self.buy_ema_fast, self.buy_ema_slow, self.sell_ema_fast, self.sell_ema_slow):
            spans.update(parameter.range)
        for span in sorted(spans):
            dataframe[f"ema_{span}"] = dataframe["close"].ewm(span=span, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast = dataframe[f"ema_{self.buy_ema_fast.value}"]
        slow = dataframe[f"ema_{self.buy_ema_slow.value}"]
        crossed = (fast > slow) & (fast.shift(1) <= slow.shift(1))
        dataframe.loc[crossed, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast = dataframe[f"ema_{self.sell_ema_fast.value}"]
        slow = dataframe[f"ema_{self.sell_ema_slow.value}"]
        crossed = (fast < slow) & (fast.shift(1) >= slow.shift(1))
        dataframe.loc[crossed, "exit_long"] = 1
        return dataframe
