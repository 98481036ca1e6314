"""Reading ``publishedDateTime`` values: YAML timestamps and date strings, always to aware UTC."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, tzinfo

MIN_YEAR = 1900
"""Earlier dates are reported: news is not that old, and some readers cannot show them."""
_HOUR = 3600
# RFC 822 zone names (and the US names it defines); dateutil knows only UTC/GMT itself.
_ZONE_NAMES = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * _HOUR,
    "EDT": -4 * _HOUR,
    "CST": -6 * _HOUR,
    "CDT": -5 * _HOUR,
    "MST": -7 * _HOUR,
    "MDT": -6 * _HOUR,
    "PST": -8 * _HOUR,
    "PDT": -7 * _HOUR,
}
# Two different defaults: a string that leaves a date part out parses differently under them.
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)


def to_utc(value: datetime, zone: tzinfo) -> datetime:
    """An aware UTC datetime; naive values are read in ``zone``. ``ValueError`` if out of range."""
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)
        result = value.astimezone(UTC)
    except (OverflowError, ValueError) as e:
        raise ValueError(f"date out of range: {value.isoformat()}") from e
    if result.year < MIN_YEAR:
        raise ValueError(f"date before {MIN_YEAR}: {value.isoformat()}")
    return result


def parse_date(value: object, zone: tzinfo) -> datetime:
    """Read a YAML timestamp, date or date string; ``ValueError`` with a message if unusable."""
    if isinstance(value, datetime):
        if value.tzinfo is UTC and value.year >= MIN_YEAR:
            return value  # what YAML gives for "...Z": already aware UTC (to_utc's result)
        return to_utc(value, zone)
    if isinstance(value, date):
        return to_utc(datetime.combine(value, time()), zone)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        raise ValueError(f"a number is not a date: {value!r}")
    if not isinstance(value, str):
        raise ValueError(f"not a date: a {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    return to_utc(_parse_string(text), zone)


def _parse_string(text: str) -> datetime:
    from dateutil import parser as date_parser  # only for dates not in the usual form

    shown = text if len(text) <= 60 else text[:57] + "..."
    with warnings.catch_warnings():
        warnings.simplefilter("error", date_parser.UnknownTimezoneWarning)
        try:
            first = date_parser.parse(text, default=_DEFAULT_A, tzinfos=_ZONE_NAMES)
            second = date_parser.parse(text, default=_DEFAULT_B, tzinfos=_ZONE_NAMES)
        except date_parser.UnknownTimezoneWarning:
            raise ValueError(f"unknown time zone name in {shown!r}") from None
        except (ValueError, OverflowError, TypeError):
            raise ValueError(f"not a date: {shown!r}") from None
    if first.date() != second.date():
        raise ValueError(f"incomplete date (needs year, month and day): {shown!r}")
    return first
