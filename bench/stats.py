"""Summaries of samples and runs, and numbers read out of results (pure functions)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile with linear interpolation between ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """count, p50, p90, p99, max and mean of samples in seconds, reported in milliseconds."""
    if not seconds:
        return {
            "count": 0,
            "p50_ms": math.nan,
            "p90_ms": math.nan,
            "p99_ms": math.nan,
            "max_ms": math.nan,
            "mean_ms": math.nan,
        }
    return {
        "count": len(seconds),
        "p50_ms": percentile(seconds, 0.50) * 1e3,
        "p90_ms": percentile(seconds, 0.90) * 1e3,
        "p99_ms": percentile(seconds, 0.99) * 1e3,
        "max_ms": max(seconds) * 1e3,
        "mean_ms": sum(seconds) / len(seconds) * 1e3,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs plus the median of every number in them (keyed like the first run)."""
    medians = {
        key: statistics.median(run[key] for run in runs)
        for key, value in runs[0].items()
        if isinstance(value, int | float)
    }
    return {"median": medians, "runs": runs}


def number_at(results: dict[str, Any], *path: str) -> float:
    """The number at ``path`` in nested dicts; NaN when a key on the way is missing (a
    subject that did not run, or failed)."""
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return math.nan
        value = value[key]
    return float(value)


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when either is NaN or ``b`` is 0."""
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan
