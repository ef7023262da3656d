"""Cell formatting shared by the Table printers: ages, timestamps, label sets.

``human_duration`` is k8s.io/apimachinery/pkg/util/duration.HumanDuration, the function
behind every AGE column kubectl shows: two significant units at most, precision falling
off as durations grow ("59s", "119s", "2m5s", "10m", "179m", "3h5m", "8h", "2d3h",
"8d", "2y30d", "8y").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_US_PER_HOUR = 60 * _US_PER_MINUTE


def _truncate(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero, as Go's int conversions do."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def human_duration(d: timedelta) -> str:
    """Render a duration the way kubectl's AGE column does."""
    micros = (d.days * 86_400 + d.seconds) * _US_PER_SECOND + d.microseconds
    seconds = _truncate(micros, _US_PER_SECOND)
    # Up to two seconds in the future is tolerated as clock skew and reads as "0s".
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = micros // _US_PER_MINUTE
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = micros // _US_PER_HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_timestamp(value: Any) -> datetime | None:
    """Parse a metav1.Time or MicroTime string; None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def age(value: Any, now: datetime) -> str:
    """translateTimestampSince: the age of a timestamp, or "<unknown>" when there is none."""
    when = parse_timestamp(value)
    if when is None:
        return "<unknown>"
    return human_duration(now - when)


def rfc3339(value: Any) -> str:
    """A timestamp re-rendered in UTC RFC 3339, as the default "Created At" column has it."""
    when = parse_timestamp(value)
    if when is None:
        return "0001-01-01T00:00:00Z"  # Go's zero time
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs joined by commas, or "<none>"."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Walk nested dicts and lists; ``default`` when any step is missing."""
    current = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return default
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return default
            current = current[step]
    return default if current is None else current


def text(obj: Any, *path: str | int) -> str:
    """A string field, or "" when missing."""
    value = get(obj, *path, default="")
    return value if isinstance(value, str) else str(value)


def items(obj: Any, *path: str | int) -> list[Any]:
    """A list field, or [] when missing."""
    value = get(obj, *path, default=[])
    return value if isinstance(value, list) else []
