"""Dates and times: the current time in any time zone, date arithmetic, and weekdays.

Offers `current_time`, `add_time`, `time_between` and `weekday`. Inputs are ISO 8601 dates
("2024-03-10") or dates and times ("2024-03-10T14:30", optionally with an offset such as
"+01:00" or "Z"); "now" and "today" are accepted too. Time zones are IANA names
("Europe/Paris"), looked up with `zoneinfo`, so daylight-saving changes are accounted for.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo

from agentkit.errors import ModelRetry

_UTC = dt.timezone.utc
_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
_INPUT_HELP = (
    "give an ISO 8601 date like 2024-03-10, a date and time like 2024-03-10T14:30 "
    "(optionally with an offset such as +01:00 or Z), or 'now' / 'today'"
)
_ZONE_HELP = (
    "use an IANA time zone name such as 'UTC', 'Europe/Paris', 'America/New_York' or "
    "'Asia/Tokyo' (Area/City; not abbreviations like 'PST' or offsets like '+02:00')"
)
_RANGE_HELP = "the result must fall between the years 1 and 9999; use smaller amounts"

_Moment = dt.date | dt.datetime


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name` (case-insensitive), or a message naming close matches."""
    key = name.strip()
    if key:
        try:
            return zoneinfo.ZoneInfo(key)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass  # not a valid key as written; try a case-insensitive match below
    known = zoneinfo.available_timezones()
    by_lower = {z.lower(): z for z in known}
    wanted = key.lower().replace(" ", "_")
    if wanted in by_lower:
        return zoneinfo.ZoneInfo(by_lower[wanted])
    matches = sorted(z for z in known if z.lower().rsplit("/", 1)[-1] == wanted)
    hint = f"; did you mean {', '.join(repr(m) for m in matches[:5])}?" if matches else ""
    raise ModelRetry(f"unknown time zone {name!r}: {_ZONE_HELP}{hint}")


def _now(zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.now(zone).replace(microsecond=0)


def _parse(text: str, zone: dt.tzinfo | None) -> _Moment:
    """A date, or a datetime (aware when it has an offset, or when `zone` is given)."""
    value = text.strip()
    keyword = value.lower()
    if keyword == "now":
        return _now(zone or _UTC)
    if keyword == "today":
        return _now(zone or _UTC).date()
    if not value:
        raise ModelRetry(f"the date is empty; {_INPUT_HELP}")
    try:
        if _DATE_ONLY.match(value):
            return dt.date.fromisoformat(value)
        # Python 3.10's parser does not know the "Z" suffix.
        parsed = dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", value))
    except ValueError as exc:
        raise ModelRetry(f"invalid date or time {text!r} ({exc}); {_INPUT_HELP}") from None
    if zone is None:
        return parsed
    if parsed.tzinfo is None:
        return _normalize(parsed.replace(tzinfo=zone))
    return parsed.astimezone(zone)


def _normalize(value: dt.datetime) -> dt.datetime:
    """Move a wall time that does not exist (skipped by a DST change) to a real one."""
    if value.tzinfo is None:
        return value
    return value.astimezone(_UTC).astimezone(value.tzinfo)


def _describe(value: _Moment) -> str:
    """ISO 8601 text with the weekday, and the zone abbreviation when there is one."""
    notes = [value.strftime("%A")]
    if isinstance(value, dt.datetime) and isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        abbreviation, key = value.tzname(), value.tzinfo.key
        notes.append(key if abbreviation == key else f"{abbreviation}, {key}")
    return f"{value.isoformat()} ({', '.join(notes)})"


def _add_months(value: _Moment, months: int) -> _Moment:
    """Calendar months later (or earlier), keeping the day, clamped to the month's end."""
    year, month_index = divmod(value.year * 12 + value.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise ModelRetry(f"adding {months} months gives the year {year}; {_RANGE_HELP}")
    day = min(value.day, calendar.monthrange(year, month_index + 1)[1])
    return value.replace(year=year, month=month_index + 1, day=day)


def _plural(count: float, unit: str) -> str:
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {unit}" if count == 1 else f"{shown} {unit}s"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _as_datetime(value: _Moment) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def current_time(timezone: str = "UTC") -> str:
    """Get the current date and time in a time zone.

    Args:
        timezone: IANA time zone name, e.g. "Europe/Paris", "America/New_York" or "UTC".

    Returns:
        The ISO 8601 date and time with its UTC offset, then the weekday, the zone's
        abbreviation and name, e.g. "2024-07-02T14:03:12+02:00 (Tuesday, CEST, Europe/Paris)".
    """
    return _describe(_now(_zone(timezone)))


def add_time(
    start: str,
    years: int = 0,
    months: int = 0,
    weeks: int = 0,
    days: int = 0,
    hours: float = 0,
    minutes: float = 0,
    timezone: str | None = None,
) -> str:
    """Add (or, with negative amounts, subtract) time to a date or a date and time.

    Years, months, weeks and days move on the calendar: the time of day stays the same
    across daylight-saving changes, and a day that does not exist in the target month is
    clamped (2024-01-31 plus 1 month is 2024-02-29). Hours and minutes are elapsed time.

    Args:
        start: The starting point: an ISO 8601 date ("2024-03-10"), date and time
            ("2024-03-10T14:30", "2024-03-10T14:30:00+01:00", "2024-03-10T13:30Z"), "now"
            or "today".
        years: Calendar years to add; negative to subtract.
        months: Calendar months to add; negative to subtract.
        weeks: Weeks to add; negative to subtract.
        days: Days to add; negative to subtract.
        hours: Hours of elapsed time to add; negative to subtract. Turns a date into a date
            and time at midnight.
        minutes: Minutes of elapsed time to add; negative to subtract.
        timezone: IANA time zone name (e.g. "America/New_York") in which to read a start
            without an offset and to do the calendar arithmetic. Omit to keep the start's
            own offset (or no zone at all).

    Returns:
        The resulting date or date and time in ISO 8601, with its weekday.
    """
    zone = _zone(timezone) if timezone is not None else None
    value = _parse(start, zone)
    try:
        value = _add_months(value, years * 12 + months)
        value = value + dt.timedelta(weeks=weeks, days=days)
        if isinstance(value, dt.datetime):
            value = _normalize(value)
        if hours or minutes:
            moment = _as_datetime(_adopt_zone(value, zone))
            value = _add_elapsed(moment, dt.timedelta(hours=hours, minutes=minutes))
    except (OverflowError, ValueError) as exc:
        raise ModelRetry(f"cannot add that to {start!r} ({exc}); {_RANGE_HELP}") from None
    return _describe(value)


def _add_elapsed(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    if value.tzinfo is None:
        return value + delta
    # Aware arithmetic on the same tzinfo is wall-clock arithmetic; elapsed time needs UTC.
    return (value.astimezone(_UTC) + delta).astimezone(value.tzinfo)


def _calendar_parts(earlier: dt.date, later: dt.date) -> list[str]:
    """Whole years, months and days from `earlier` to `later`, as words."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    anchor = _add_months(earlier, months)
    days = (later - anchor).days
    years, months = divmod(months, 12)
    parts = [_plural(years, "year"), _plural(months, "month"), _plural(days, "day")]
    return [p for p in parts if not p.startswith("0 ")]


def _day_detail(earlier: dt.date, later: dt.date) -> str:
    """Weeks and days for under four weeks; years, months and days beyond."""
    count = (later - earlier).days
    if count < 7:
        return ""
    if count < 28:
        parts = [_plural(count // 7, "week"), _plural(count % 7, "day")]
        return _join([p for p in parts if not p.startswith("0 ")])
    return _join(_calendar_parts(earlier, later))


def _between_dates(start: dt.date, end: dt.date) -> str:
    days = (end - start).days
    if days == 0:
        return f"{end.isoformat()} is the same day as {start.isoformat()} (0 days)"
    detail = _day_detail(min(start, end), max(start, end))
    direction = "after" if days > 0 else "before"
    shown = f" ({detail})" if detail else ""
    return (
        f"{end.isoformat()} is {_plural(abs(days), 'day')} {direction} {start.isoformat()}{shown}"
    )


def _between_datetimes(start: dt.datetime, end: dt.datetime) -> str:
    if start.tzinfo is not None:
        # Subtraction with a shared tzinfo ignores DST changes; UTC gives elapsed time.
        start_utc, end_utc = start.astimezone(_UTC), end.astimezone(_UTC)
        seconds = int((end_utc - start_utc).total_seconds())
    else:
        seconds = int((end - start).total_seconds())
    if seconds == 0:
        return f"{end.isoformat()} is the same moment as {start.isoformat()}"
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    amounts = ((days, "day"), (hours, "hour"), (mins, "minute"), (secs, "second"))
    parts = [_plural(n, unit) for n, unit in amounts if n]
    direction = "after" if seconds > 0 else "before"
    totals = f"{_plural(abs(seconds) / 3600, 'hour')}; {_plural(abs(seconds), 'second')}"
    return f"{end.isoformat()} is {_join(parts)} {direction} {start.isoformat()} ({totals})"


def _adopt_zone(value: _Moment, zone: dt.tzinfo | None) -> _Moment:
    """A date or naive time read in `zone` (a date becomes its midnight); others as is."""
    if zone is None or (isinstance(value, dt.datetime) and value.tzinfo is not None):
        return value
    return _normalize(_as_datetime(value).replace(tzinfo=zone))


def time_between(start: str, end: str, timezone: str | None = None) -> str:
    """Find how much time lies between two dates or two dates and times.

    Two dates give whole days, with weeks, or years, months and days. Date and times give
    the elapsed time, counting daylight-saving changes when the times have offsets or a
    timezone is given.

    Args:
        start: The point to measure from: an ISO 8601 date ("2024-03-10"), date and time
            ("2024-03-10T14:30+01:00"), "now" or "today".
        end: The point to measure to, in the same forms; if it is earlier than start, the
            answer says "before".
        timezone: IANA time zone name (e.g. "Europe/Paris") in which to read dates and times
            without an offset. Omit it and they are read in the other point's offset, or
            both without a zone.

    Returns:
        A sentence giving the difference, e.g. "2024-03-20 is 10 days after 2024-03-10
        (1 week and 3 days)".
    """
    zone = _zone(timezone) if timezone is not None else None
    first, second = _parse(start, zone), _parse(end, zone)
    if not isinstance(first, dt.datetime) and not isinstance(second, dt.datetime):
        return _between_dates(first, second)
    # A date or naive time next to an aware one is read in that one's zone.
    first = _adopt_zone(first, zone or getattr(second, "tzinfo", None))
    second = _adopt_zone(second, zone or getattr(first, "tzinfo", None))
    return _between_datetimes(_as_datetime(first), _as_datetime(second))


def weekday(date: str) -> str:
    """Find the day of the week of a date.

    Args:
        date: An ISO 8601 date such as "2024-07-04" (a date and time is also accepted; its
            own date is used), or "today" (in UTC).

    Returns:
        The weekday with the ISO week and the day of the year, e.g. "2024-07-04 is a
        Thursday (ISO week 27 of 2024, day 186 of the year)".
    """
    value = _parse(date, None)
    day = value.date() if isinstance(value, dt.datetime) else value
    iso_year, iso_week, _ = day.isocalendar()
    return (
        f"{day.isoformat()} is a {day.strftime('%A')} (ISO week {iso_week} of {iso_year}, "
        f"day {day.timetuple().tm_yday} of the year)"
    )
