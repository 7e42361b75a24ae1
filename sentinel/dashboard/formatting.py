"""Short human figures for the dashboard: bytes, counts, rates, durations, percentages.

Every formatter takes None for unknown and returns UNKNOWN, so a killed node's row reads as
dashes rather than as misleading zeros.
"""

from __future__ import annotations

UNKNOWN = "—"


def format_bytes(count: int | float | None) -> str:
    """Binary units, three significant figures: `512 B`, `1.50 KiB`, `12.3 MiB`."""
    if count is None:
        return UNKNOWN
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{int(value)} B"
    if abs(value) >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}" if abs(value) >= 10 else f"{value:.2f} {unit}"


def format_count(count: int | float | None) -> str:
    """Short decimal counts: `999`, `1.2k`, `34k`, `5.6M`."""
    if count is None:
        return UNKNOWN
    value = float(count)
    for suffix in ("", "k", "M", "G"):
        if abs(value) < 1000 or suffix == "G":
            break
        value /= 1000
    if suffix == "":
        return f"{value:.0f}" if value == int(value) or abs(value) >= 10 else f"{value:.1f}"
    return f"{value:.1f}{suffix}" if abs(value) < 10 else f"{value:.0f}{suffix}"


def format_rate(per_s: float | None, unit: str = "") -> str:
    """`1.2k/s`, or `340 KiB/s` when `unit` is `B`."""
    if per_s is None:
        return UNKNOWN
    if unit == "B":
        return f"{format_bytes(per_s)}/s"
    return f"{format_count(per_s)}{unit}/s"


def format_duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `1h02m03s`, `2d03h`."""
    if seconds is None:
        return UNKNOWN
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m{s:02d}s"
    if minutes:
        return f"{minutes}m{s:02d}s"
    return f"{s}s"


def format_clock(seconds: float) -> str:
    """An event's time since the cluster came up: `00:01:23`."""
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def format_percent(value: float | None) -> str:
    """`12%`, `3.5%`."""
    if value is None:
        return UNKNOWN
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"


def format_bytes_short(count: int | float | None) -> str:
    """`38.8M`: format_bytes without the space and the `iB`."""
    text = format_bytes(count)
    return text if text == UNKNOWN else text.replace(" ", "").replace("iB", "")
