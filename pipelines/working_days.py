"""Working days in England: Monday to Friday, England and Wales bank holidays excluded (`holidays`, GB/ENG).

Pure functions, no I/O: used by corrections (7 working days to correct a published error, protocol
5.ii) and by the dashboard to show how long an open correction has left.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]).keys())


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not an England bank holiday."""
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def working_days_after(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (start itself not counted)."""
    day, count = start, 0
    while count < n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; negative (minus the working days in (end, start]) when end < start."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for i in range(1, (end - start).days + 1) if is_working_day(start + dt.timedelta(days=i)))


def days_left_text(deadline: dt.date, status: str, today: dt.date) -> str:
    """'3 working days left', 'due today', 'overdue by 2 working days', or 'closed'."""
    if status != "open":
        return "closed"
    left = working_days_between(today, deadline)
    if today > deadline:
        return f"overdue by {-left} working day{'s' if -left != 1 else ''}"
    if left == 0:
        return "due today"
    return f"{left} working day{'s' if left != 1 else ''} left"
