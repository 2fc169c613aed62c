"""The interval of a candle file: the most common step between its rows, 1 minute or refused.

Missing minutes are normal in a 1-minute file (Upbit sends no candle for a minute without
trades), so the test is the most common step, not every step: a daily file steps 1,440
minutes from row to row, an hourly one 60.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.market_data.candle_file_error import CandleFileError


def check_one_minute(path: Path, minutes: np.ndarray) -> None:  # type: ignore[type-arg]
    """Refuse rows (minutes since the epoch, increasing) whose most common step is not 1.

    Raises:
        CandleFileError: naming the interval found and the rule.
    """
    if len(minutes) < 2:
        return
    steps, counts = np.unique(np.diff(minutes), return_counts=True)
    step = int(steps[int(np.argmax(counts))])
    if step != 1:
        raise CandleFileError(
            f"candle file {path} holds {interval_name(step)} candles (the most common step "
            f"between its rows is {step:,} minutes); only 1-minute candles are read, none "
            "is resampled: give a file of 1-minute candles"
        )


def interval_name(step_minutes: int) -> str:
    """Return `1-day`, `4-hour` or `5-minute` for a step in minutes."""
    if step_minutes % 1440 == 0:
        return f"{step_minutes // 1440}-day"
    if step_minutes % 60 == 0:
        return f"{step_minutes // 60}-hour"
    return f"{step_minutes}-minute"
