"""The ready-made `clock` tool module, loaded by short name as a user would."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest

from agentkit import ModelRetry, Tool
from agentkit.tools import load_tools

_ISO_NOW = re.compile(r"^(\S+) \((\w+day), (.+)\)$")


@pytest.fixture(scope="module")
def tools() -> dict[str, Tool]:
    return {t.name: t for t in load_tools("clock")}


def test_module_offers_the_clock_tools(tools: dict[str, Tool]) -> None:
    assert set(tools) == {"current_time", "add_time", "time_between", "weekday"}
    for t in tools.values():
        assert t.description.strip()
        assert not t.requires_approval
        for name, prop in t.parameters["properties"].items():
            assert prop.get("description", "").strip(), f"{t.name}.{name} is undocumented"


def test_add_time_schema(tools: dict[str, Tool]) -> None:
    schema = tools["add_time"].parameters
    assert schema["required"] == ["start"]
    assert schema["properties"]["days"]["type"] == "integer"
    assert schema["properties"]["hours"]["type"] == "number"


def _parse_now(text: str) -> tuple[dt.datetime, str]:
    match = _ISO_NOW.match(text)
    assert match, text
    moment = dt.datetime.fromisoformat(match.group(1))
    assert moment.strftime("%A") == match.group(2)
    return moment, match.group(3)


def test_current_time_defaults_to_utc(tools: dict[str, Tool]) -> None:
    moment, zone = _parse_now(tools["current_time"]())
    assert zone == "UTC"
    assert moment.utcoffset() == dt.timedelta(0)
    assert moment.microsecond == 0


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("America/New_York", "America/New_York"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("Australia/Lord_Howe", "Australia/Lord_Howe"),
        ("europe/paris", "Europe/Paris"),
        ("  Asia/Tokyo ", "Asia/Tokyo"),
        ("UTC", "UTC"),
    ],
)
def test_current_time_in_a_zone(tools: dict[str, Tool], given: str, key: str) -> None:
    moment, zone = _parse_now(tools["current_time"](timezone=given))
    assert zone.endswith(key)
    assert moment.utcoffset() == zoneinfo.ZoneInfo(key).utcoffset(moment.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Paris", r"unknown time zone 'Paris': use an IANA .*did you mean 'Europe/Paris'\?"),
        ("new york", r"did you mean 'America/New_York'\?"),
        ("PST", r"unknown time zone 'PST': use an IANA time zone name such as 'UTC'"),
        ("UTC+2", r"unknown time zone 'UTC\+2'.*not abbreviations like 'PST' or offsets"),
        ("Mars/Olympus_Mons", r"unknown time zone 'Mars/Olympus_Mons'"),
        ("Europe", r"unknown time zone 'Europe'"),
        ("", r"unknown time zone ''"),
        ("../../etc/passwd", r"unknown time zone '\.\./\.\./etc/passwd'"),
        ("/etc/localtime", r"unknown time zone '/etc/localtime'"),
        ("zone.tab", r"unknown time zone 'zone\.tab'"),
    ],
)
def test_unknown_zones_are_explained(tools: dict[str, Tool], zone: str, message: str) -> None:
    with pytest.raises(ModelRetry, match=message):
        tools["current_time"](timezone=zone)
    with pytest.raises(ModelRetry, match=message):
        tools["add_time"](start="2024-01-01", days=1, timezone=zone)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        # US spring forward (2024-03-10): a calendar day keeps the wall time, 24 hours do not.
        (
            {"start": "2024-03-09T12:00", "days": 1, "timezone": "America/New_York"},
            "2024-03-10T12:00:00-04:00 (Sunday, EDT, America/New_York)",
        ),
        (
            {"start": "2024-03-09T12:00", "hours": 24, "timezone": "America/New_York"},
            "2024-03-10T13:00:00-04:00 (Sunday, EDT, America/New_York)",
        ),
        # EU fall back (2024-10-27): 24 hours later is 23:00 by the clock.
        (
            {"start": "2024-10-26T12:00", "hours": 24, "timezone": "Europe/Paris"},
            "2024-10-27T11:00:00+01:00 (Sunday, CET, Europe/Paris)",
        ),
        (
            {"start": "2024-10-26T12:00+02:00", "weeks": 1, "timezone": "Europe/Paris"},
            "2024-11-02T12:00:00+01:00 (Saturday, CET, Europe/Paris)",
        ),
        # A wall time skipped by DST moves to the real time it stands for.
        (
            {"start": "2024-03-09T02:30", "days": 1, "timezone": "America/New_York"},
            "2024-03-10T03:30:00-04:00 (Sunday, EDT, America/New_York)",
        ),
        (
            {"start": "2024-03-10", "hours": 5, "timezone": "America/New_York"},
            "2024-03-10T06:00:00-04:00 (Sunday, EDT, America/New_York)",
        ),
        ({"start": "2024-01-31", "months": 1}, "2024-02-29 (Thursday)"),
        ({"start": "2023-01-31", "months": 1}, "2023-02-28 (Tuesday)"),
        ({"start": "2024-02-29", "years": 1}, "2025-02-28 (Friday)"),
        ({"start": "2024-03-31", "months": -1}, "2024-02-29 (Thursday)"),
        ({"start": "2024-03-10", "days": -10}, "2024-02-29 (Thursday)"),
        ({"start": "2024-03-10", "weeks": 2, "days": 1}, "2024-03-25 (Monday)"),
        ({"start": "2024-12-31", "days": 1}, "2025-01-01 (Wednesday)"),
        ({"start": "2024-03-10", "years": 1, "months": 14}, "2026-05-10 (Sunday)"),
        ({"start": "2024-03-10"}, "2024-03-10 (Sunday)"),
        ({"start": "2024-03-10", "hours": 1.5}, "2024-03-10T01:30:00 (Sunday)"),
        ({"start": "2024-03-10T10:00Z", "weeks": -2}, "2024-02-25T10:00:00+00:00 (Sunday)"),
        (
            {"start": "2024-03-10T23:30:00+05:30", "minutes": 45},
            "2024-03-11T00:15:00+05:30 (Monday)",
        ),
        ({"start": "2024-03-10 08:00", "hours": -9}, "2024-03-09T23:00:00 (Saturday)"),
        (
            {"start": "2024-03-10T12:00Z", "hours": 1, "timezone": "Asia/Tokyo"},
            "2024-03-10T22:00:00+09:00 (Sunday, JST, Asia/Tokyo)",
        ),
    ],
)
def test_add_time(tools: dict[str, Tool], arguments: dict[str, Any], expected: str) -> None:
    assert tools["add_time"](**arguments) == expected


def test_add_time_from_now_uses_the_zone(tools: dict[str, Tool]) -> None:
    moment, zone = _parse_now(tools["add_time"](start="now", days=1, timezone="Asia/Tokyo"))
    assert zone.endswith("Asia/Tokyo")
    assert moment.utcoffset() == dt.timedelta(hours=9)


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("2024-02-30", r"invalid date or time '2024-02-30' \(day is out of range for month\)"),
        ("2023-02-29", r"invalid date or time '2023-02-29'"),
        ("2024-13-01", r"invalid date or time '2024-13-01' \(month must be in 1\.\.12\)"),
        ("2024-03-10T25:00", r"invalid date or time '2024-03-10T25:00'"),
        ("10/03/2024", r"invalid date or time '10/03/2024'.*give an ISO 8601 date like"),
        ("yesterday", r"invalid date or time 'yesterday'.*'now' / 'today'"),
        ("", r"the date is empty; give an ISO 8601 date"),
    ],
)
def test_bad_dates_are_explained(tools: dict[str, Tool], start: str, message: str) -> None:
    with pytest.raises(ModelRetry, match=message):
        tools["add_time"](start=start, days=1)
    with pytest.raises(ModelRetry, match=message):
        tools["weekday"](date=start)


@pytest.mark.parametrize(
    "arguments",
    [
        {"start": "2024-03-10", "years": 8000},
        {"start": "0001-01-01", "days": -1},
        {"start": "2024-03-10", "days": 10**9},
        {"start": "9999-12-31T12:00", "hours": 24},
    ],
)
def test_add_time_out_of_range(tools: dict[str, Tool], arguments: dict[str, Any]) -> None:
    with pytest.raises(ModelRetry, match="between the years 1 and 9999"):
        tools["add_time"](**arguments)


@pytest.mark.parametrize(
    ("start", "end", "zone", "expected"),
    [
        ("2024-03-10", "2024-03-10", None, "the same day as 2024-03-10 (0 days)"),
        ("2024-03-10", "2024-03-13", None, "3 days after 2024-03-10"),
        ("2024-03-10", "2024-03-20", None, "10 days after 2024-03-10 (1 week and 3 days)"),
        ("2024-03-10", "2024-03-24", None, "14 days after 2024-03-10 (2 weeks)"),
        ("2024-03-20", "2024-03-10", None, "10 days before 2024-03-20 (1 week and 3 days)"),
        ("2024-01-01", "2025-01-01", None, "366 days after 2024-01-01 (1 year)"),
        (
            "1990-05-17",
            "2024-03-10",
            None,
            "12351 days after 1990-05-17 (33 years, 9 months and 22 days)",
        ),
        # Across the US spring-forward change, noon to noon is 23 hours.
        (
            "2024-03-09T12:00",
            "2024-03-10T12:00",
            "America/New_York",
            "23 hours after 2024-03-09T12:00:00-05:00 (23 hours; 82800 seconds)",
        ),
        (
            "2024-03-09T12:00",
            "2024-03-10T12:30",
            None,
            "1 day and 30 minutes after 2024-03-09T12:00:00 (24.5 hours; 88200 seconds)",
        ),
        (
            "2024-03-10T12:00+01:00",
            "2024-03-10T12:00Z",
            None,
            "1 hour after 2024-03-10T12:00:00+01:00 (1 hour; 3600 seconds)",
        ),
        (
            "2024-03-10T08:00Z",
            "2024-03-10T08:00:00+00:00",
            None,
            "the same moment as 2024-03-10T08:00:00+00:00",
        ),
        (
            "2024-03-10T12:00-04:00",
            "2024-03-11",
            None,
            "12 hours after 2024-03-10T12:00:00-04:00 (12 hours; 43200 seconds)",
        ),
    ],
)
def test_time_between(
    tools: dict[str, Tool], start: str, end: str, zone: str | None, expected: str
) -> None:
    text = tools["time_between"](start=start, end=end, timezone=zone)
    shown_end, _, rest = text.partition(" is ")
    assert rest == expected
    assert shown_end.startswith(end[:10])


def test_time_between_reads_a_naive_time_in_the_other_ones_zone(tools: dict[str, Tool]) -> None:
    text = tools["time_between"](start="2024-03-10T12:00+01:00", end="2024-03-11T12:00")
    assert text.startswith("2024-03-11T12:00:00+01:00 is 1 day after")


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2024-07-04", "2024-07-04 is a Thursday (ISO week 27 of 2024, day 186 of the year)"),
        ("2000-01-01", "2000-01-01 is a Saturday (ISO week 52 of 1999, day 1 of the year)"),
        ("2024-02-29", "2024-02-29 is a Thursday (ISO week 9 of 2024, day 60 of the year)"),
        ("2024-12-30", "2024-12-30 is a Monday (ISO week 1 of 2025, day 365 of the year)"),
        ("1969-07-20", "1969-07-20 is a Sunday (ISO week 29 of 1969, day 201 of the year)"),
        (
            "2024-07-04T23:30-05:00",
            "2024-07-04 is a Thursday (ISO week 27 of 2024, day 186 of the year)",
        ),
    ],
)
def test_weekday(tools: dict[str, Tool], date: str, expected: str) -> None:
    assert tools["weekday"](date=date) == expected


def test_weekday_of_today(tools: dict[str, Tool]) -> None:
    assert re.match(r"^\d{4}-\d{2}-\d{2} is a \w+day \(ISO week", tools["weekday"](date="today"))
