"""SOQL date literals (``TODAY``, ``LAST_N_DAYS:30`` ...) as the ranges of time they stand for.

A date literal is a range ``[start, end)`` of days, counted from the current day in the running
user's time zone (UTC here) with weeks starting on Sunday (an en_US locale) and the standard
fiscal year (January to December, so fiscal periods are calendar ones). Comparing a field with a
literal compares it with the range, as Salesforce does: ``=`` inside it, ``!=`` outside, ``<``
before its start, ``<=`` before its end, ``>`` from its end on, ``>=`` from its start on.

``LAST_N_DAYS:n`` covers the n days before today *and today* (what Salesforce does, though an
older page of its documentation says "starts 00:00:00 of the current day and continues for the
past n days"); ``NEXT_N_DAYS:n`` starts tomorrow and covers n days; ``LAST_90_DAYS`` and
``NEXT_90_DAYS`` are the same with n = 90.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

FIXED = frozenset({
    "YESTERDAY", "TODAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK", "LAST_MONTH", "THIS_MONTH",
    "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS", "LAST_QUARTER", "THIS_QUARTER", "NEXT_QUARTER", "LAST_YEAR",
    "THIS_YEAR", "NEXT_YEAR", "LAST_FISCAL_QUARTER", "THIS_FISCAL_QUARTER", "NEXT_FISCAL_QUARTER",
    "LAST_FISCAL_YEAR", "THIS_FISCAL_YEAR", "NEXT_FISCAL_YEAR",
})
WITH_N = frozenset({
    "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "LAST_N_WEEKS", "NEXT_N_WEEKS", "N_WEEKS_AGO", "LAST_N_MONTHS",
    "NEXT_N_MONTHS", "N_MONTHS_AGO", "LAST_N_QUARTERS", "NEXT_N_QUARTERS", "N_QUARTERS_AGO", "LAST_N_YEARS",
    "NEXT_N_YEARS", "N_YEARS_AGO", "LAST_N_FISCAL_QUARTERS", "NEXT_N_FISCAL_QUARTERS", "N_FISCAL_QUARTERS_AGO",
    "LAST_N_FISCAL_YEARS", "NEXT_N_FISCAL_YEARS", "N_FISCAL_YEARS_AGO",
})
_WITH_N_RE = re.compile(r"^([A-Z_]+):(\d+)$")

DayRange = tuple[date, date]  # [start, end): the first day in, the first day after


def is_date_literal(text: str) -> bool:
    """``TODAY``, ``last_n_days:7`` ... (any case), not a field name that looks like one."""
    upper = text.upper()
    found = _WITH_N_RE.match(upper)
    return upper in FIXED or (found is not None and found[1] in WITH_N)


def date_range(text: str, today: date) -> DayRange:
    """The days `text` (a date literal, see :func:`is_date_literal`) stands for, seen from `today`."""
    upper = text.upper().replace("_FISCAL", "")
    found = _WITH_N_RE.match(upper)
    if found is not None:
        return _with_n(found[1], int(found[2]), today)
    return _fixed(upper, today)


def _fixed(name: str, today: date) -> DayRange:
    one_day = timedelta(days=1)
    days = {"YESTERDAY": (today - one_day, today), "TODAY": (today, today + one_day),
            "TOMORROW": (today + one_day, today + 2 * one_day),
            "LAST_90_DAYS": (today - 90 * one_day, today + one_day),
            "NEXT_90_DAYS": (today + one_day, today + 91 * one_day)}
    if name in days:
        return days[name]
    direction, _, unit = name.partition("_")
    step = {"LAST": -1, "THIS": 0, "NEXT": 1}[direction]
    return _period(unit, today, step, 1)


def _with_n(name: str, n: int, today: date) -> DayRange:
    one_day = timedelta(days=1)
    if name == "LAST_N_DAYS":
        return today - n * one_day, today + one_day
    if name == "NEXT_N_DAYS":
        return today + one_day, today + (n + 1) * one_day
    if name == "N_DAYS_AGO":
        return today - n * one_day, today - (n - 1) * one_day
    parts = name.split("_")
    unit = parts[-1].rstrip("S") if parts[0] in ("LAST", "NEXT") else parts[1].rstrip("S")
    if parts[0] == "LAST":  # the n whole periods before the current one
        start, _ = _period(unit, today, -n, 1)
        _, end = _period(unit, today, -1, 1)
        return start, end
    if parts[0] == "NEXT":
        start, _ = _period(unit, today, 1, 1)
        _, end = _period(unit, today, n, 1)
        return start, end
    return _period(unit, today, -n, 1)  # N_..._AGO: that one period


def _period(unit: str, today: date, offset: int, count: int) -> DayRange:
    """`count` whole weeks, months, quarters or years, starting `offset` periods from the current one."""
    if unit == "WEEK":
        sunday = today - timedelta(days=(today.weekday() + 1) % 7)
        start = sunday + timedelta(weeks=offset)
        return start, start + timedelta(weeks=count)
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit]
    first = (today.year * 12 + today.month - 1) // months * months
    return _month(first + offset * months), _month(first + (offset + count) * months)


def _month(index: int) -> date:
    """The first day of month `index` (year * 12 + month - 1)."""
    return date(index // 12, index % 12 + 1, 1)
