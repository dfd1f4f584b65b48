"""Late credit as data: windows such as `2d=80,7d=50` (up to 2 days late: 80 %, up to 7 days: 50 %),
what happens after the last window, and how many grace days a late submission is worth spending.

Pure functions only (no database, no clock), so each rule is tested at its boundaries: a window
"up to 2d" includes exactly 2 days late, and a submission exactly at its due date is on time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DAY = timedelta(days=1)
FULL = 100.0
UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
NO_WINDOWS = ("", "none")
LONGEST = timedelta(days=365)
MAX_WINDOWS = 12  # their canonical text fits the 200 characters stored
_DURATION = re.compile(r"(\d+)\s*([dhm])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%?")
SYNTAX = "windows such as 2d=80,7d=50 (d days, h hours, m minutes; credit in percent)"


class LateCreditError(ValueError):
    """A late-credit rule that cannot be used; the message says why, for the person who wrote it."""


class LateAfter(StrEnum):
    """What happens to late work after the last window (after the due date when there is none)."""

    full = "full"  # accepted at full credit (only without windows)
    zero = "zero"  # accepted, earns nothing
    reject = "reject"  # uploads are refused; one that exists anyway (an extension revoked) earns nothing


@dataclass(frozen=True)
class Window:
    up_to: timedelta  # late by at most this much (inclusive)
    percent: float


def _duration(text: str, window: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise LateCreditError(f"{text!r} in {window!r} is not a duration: use a whole number of days, "
                              "hours or minutes such as 2d, 36h or 90m")
    count, unit = int(match.group(1)), match.group(2)
    if not 0 < count <= LONGEST / UNITS[unit]:
        raise LateCreditError(f"{window!r}: a window must last longer than 0 and at most {LONGEST.days} days")
    return count * UNITS[unit]


def _percent(text: str, window: str) -> float:
    match = _PERCENT.fullmatch(text)
    if match is None or not 0 <= float(match.group(1)) <= FULL:
        raise LateCreditError(f"{text!r} in {window!r} is not a credit: use a percentage from 0 to 100")
    return float(match.group(1))


def parse_windows(text: str) -> tuple[Window, ...]:
    """'2d=80, 7d=50' -> two windows; '' or 'none' -> none. Windows must get longer and give no
    more credit than the one before (a later upload never earns more)."""
    if text.strip().lower() in NO_WINDOWS:
        return ()
    windows: list[Window] = []
    if text.count(",") >= MAX_WINDOWS:
        raise LateCreditError(f"at most {MAX_WINDOWS} windows")
    for raw in text.split(","):
        part = raw.strip()
        if part.count("=") != 1:
            raise LateCreditError(f"{part!r} is not a window: write {SYNTAX}")
        duration, percent = (piece.strip() for piece in part.split("="))
        window = Window(_duration(duration.lower(), part), _percent(percent, part))
        if windows and window.up_to <= windows[-1].up_to:
            raise LateCreditError(f"{part!r} must be longer than the window before it "
                                  f"({format_duration(windows[-1].up_to)})")
        if windows and window.percent > windows[-1].percent:
            raise LateCreditError(f"{part!r} gives more credit than the shorter window before it "
                                  f"({windows[-1].percent:g} %)")
        windows.append(window)
    return tuple(windows)


def format_duration(amount: timedelta) -> str:
    """The largest unit that states the amount exactly: 2d, 36h, 90m."""
    minutes = int(amount.total_seconds() // 60)
    for unit, size in (("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def format_lateness(amount: timedelta) -> str:
    """For people: '2d 3h 5m', '40s'; '' when not late."""
    seconds = int(amount.total_seconds())
    if seconds <= 0:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts) or f"{seconds}s"


@dataclass(frozen=True)
class LateRules:
    windows: tuple[Window, ...]
    after: LateAfter

    def __post_init__(self) -> None:
        if self.windows and self.after == LateAfter.full:
            raise LateCreditError("with late windows, say what happens after the last one: zero or reject")

    @property
    def text(self) -> str:
        """The windows in their canonical form ('2d=80,7d=50'), '' when there are none."""
        return ",".join(f"{format_duration(w.up_to)}={w.percent:g}" for w in self.windows)

    @property
    def last_window(self) -> timedelta:
        return self.windows[-1].up_to if self.windows else timedelta(0)

    def percent(self, late_by: timedelta) -> float:
        """The credit, in percent, of work handed in `late_by` after its due date."""
        if late_by <= timedelta(0):
            return FULL
        for window in self.windows:
            if late_by <= window.up_to:
                return window.percent
        return FULL if self.after == LateAfter.full else 0.0

    def closes_at(self, due_at: datetime | None, grace_days: int = 0) -> datetime | None:
        """When uploads stop being accepted (`reject` only): after the last window, plus the grace
        days the student still has; None when they are always accepted. At the calendar's end at the
        latest: a due date stored before dates were bounded may be too near it to add them to."""
        if self.after != LateAfter.reject or due_at is None:
            return None
        end = datetime.max.replace(tzinfo=due_at.tzinfo)
        return due_at + min(self.last_window + grace_days * DAY, end - due_at)

    def describe(self) -> str:
        """'up to 2d late: 80 %, up to 7d late: 50 %, then 0 %', for pages and the CLI."""
        then = {LateAfter.full: "full credit", LateAfter.zero: "0 %", LateAfter.reject: "uploads refused"}[self.after]
        steps = [f"up to {format_duration(w.up_to)} late: {w.percent:g} %" for w in self.windows]
        return ", ".join([*steps, f"then {then}"]) if steps else f"late: {then}"


def late_rules(windows: str, after: str) -> LateRules:
    """The rules from their written form, e.g. ('2d=80,7d=50', 'zero')."""
    if after not in LateAfter.__members__:
        raise LateCreditError(f"after the last window: one of {', '.join(LateAfter)}, not {after!r}")
    return LateRules(parse_windows(windows), LateAfter(after))


def late_by(submitted_at: datetime, due_at: datetime | None) -> timedelta:
    """How late: zero when on time (at the due date exactly, too) or when there is no due date."""
    if due_at is None or submitted_at <= due_at:
        return timedelta(0)
    return submitted_at - due_at


def grace_plan(rules: LateRules, lateness: timedelta, days_left: int) -> tuple[int, float]:
    """(grace days to spend, resulting percent): the fewest days that reach the best credit the
    days left allow; none when they cannot raise it (a day started counts as a whole day)."""
    best = (0, rules.percent(lateness))
    needed = math.ceil(lateness / DAY) if lateness > timedelta(0) else 0
    for days in range(1, min(needed, max(days_left, 0)) + 1):
        percent = rules.percent(lateness - days * DAY)
        if percent > best[1]:
            best = (days, percent)
    return best
