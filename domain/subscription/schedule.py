"""When a subscription fires: the fire times of a cron expression in an IANA time zone.

A schedule is a classic five-field cron expression (minute, hour, day of month, month, day of
week; names like ``MON``/``JAN`` and cronsim's ``L``, ``LW`` and ``#`` extensions allowed) read
in local time of a time zone, as Debian cron reads it:

* A schedule at a **specific time** (minute and hour fields that do not start with ``*``, e.g.
  ``30 2 * * *``, ``0 9-17 * * MON-FRI``) fires at that wall-clock time.
  - On the spring-forward day a time that does not exist (02:30 in Europe/Berlin, where clocks
    jump from 02:00 to 03:00) fires once, at the first valid instant after the gap (03:00).
  - On the fall-back day a time that occurs twice (02:30 in Europe/Berlin) fires once, at the
    first occurrence (02:30 summer time).
* A schedule whose minute or hour field starts with ``*`` (``*/15 * * * *``, ``0 */2 * * *``)
  follows elapsed time: it fires at every matching instant that exists, so on the fall-back
  night the repeated hour fires twice and on the spring-forward night the missing hour does
  not fire at all (as "every hour" means every real hour).

Fire times are aware ``datetime``s in UTC, strictly increasing, each strictly after the instant
asked about. A schedule fires at most every ``MIN_INTERVAL`` (five minutes): a subscription is
an email with rendered pages, not a monitor. cronsim does the field arithmetic (and the
wall-clock handling above);
``ScheduleTimes`` adds the guarantee that a wall-clock reading never steps back in real time
(cronsim reads an instant in a repeated hour by its wall clock, so it can offer the first
occurrence of 02:30 when asked after the second; that run is skipped, never fired late).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from domain.errors import InvalidCommand

#: The fields of an expression, in order.
FIELDS: Final = ("minute", "hour", "day of month", "month", "day of week")
MAX_CRON_LENGTH: Final = 200
#: Letters, digits, ``_``, ``+``, ``-`` in ``/``-separated parts ("America/Argentina/Salta").
_ZONE_NAME: Final = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_NOT_ZONES: Final = frozenset({"localtime", "Factory", "posixrules"})
#: Any instant: where validation starts looking for a first fire time.
_REFERENCE: Final = datetime(2000, 1, 1, tzinfo=UTC)
#: A run coalescing missed fire times looks at most this many of them (see `latest_fire`).
MAX_CATCH_UP: Final = 100_000
#: The shortest time a schedule may leave between two of its fire times.
MIN_INTERVAL: Final = timedelta(minutes=5)


def parse_cron(expression: str) -> str:
    """``expression`` with its whitespace normalised, checked to be a five-field cron
    expression that fires at least once."""
    return _parsed(expression)[0]


def _parsed(expression: str) -> tuple[str, CronSim]:
    """``parse_cron``'s answer and cronsim's reading of it."""
    fields = expression.split()
    if len(expression) > MAX_CRON_LENGTH:
        raise InvalidCommand(
            f"a cron expression is at most {MAX_CRON_LENGTH} characters", code="invalid_cron"
        )
    if len(fields) != len(FIELDS):
        raise InvalidCommand(
            f"a cron expression has {len(FIELDS)} fields ({', '.join(FIELDS)}), "
            f"e.g. '0 9 * * MON-FRI'; {expression!r} has {len(fields)}",
            code="invalid_cron",
        )
    normalised = " ".join(fields).upper()
    try:
        times = CronSim(normalised, _REFERENCE)
        next(times)
    except CronSimError as error:
        raise InvalidCommand(
            f"{expression!r} is not a valid cron expression: {error}", code="invalid_cron"
        ) from None
    except StopIteration:
        raise InvalidCommand(
            f"{expression!r} never fires (no date matches it)", code="invalid_cron"
        ) from None
    return normalised, times


def subscription_cron(expression: str) -> str:
    """``parse_cron(expression)``, refused (code ``schedule_too_frequent``) when it would fire
    less than ``MIN_INTERVAL`` apart. Schedules stored before the limit still fire as written:
    only new and changed ones are held to it."""
    normalised, times = _parsed(expression)
    gap = shortest_gap(times)
    if gap < MIN_INTERVAL:
        minutes = round(gap.total_seconds() / 60)
        raise InvalidCommand(
            f"{expression!r} fires {minutes} minute{'s' if minutes != 1 else ''} apart; a "
            f"subscription fires at most every {MIN_INTERVAL.seconds // 60} minutes "
            "(e.g. '*/15 * * * *')",
            code="schedule_too_frequent",
        )
    return normalised


def shortest_gap(times: CronSim) -> timedelta:
    """The shortest time between two fire times of a schedule, from its minute and hour
    fields: exact within a day; across midnight it takes the next day to match too (which a
    day-of-month or weekday field may prevent: then the real gap is longer)."""
    day = sorted(hour * 60 + minute for hour in times.hours for minute in times.minutes)
    gaps = [later - earlier for earlier, later in pairwise(day)]
    gaps.append(day[0] + 24 * 60 - day[-1])
    return timedelta(minutes=min(gaps))


def parse_time_zone(name: str) -> str:
    """``name`` checked to be an IANA time zone the system knows ("Europe/Berlin", "UTC")."""
    cleaned = name.strip()
    if not _ZONE_NAME.fullmatch(cleaned):
        raise InvalidCommand(
            f"{name!r} is not an IANA time zone name like 'Europe/Berlin'",
            code="unknown_timezone",
        )
    if cleaned in _known_zones():
        try:
            ZoneInfo(cleaned)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass  # listed, yet unreadable: as unknown
        else:
            return cleaned
    raise InvalidCommand(
        f"unknown time zone {name!r}; use an IANA name like 'Europe/Berlin' or 'America/New_York'",
        code="unknown_timezone",
    )


@functools.cache
def _known_zones() -> frozenset[str]:
    """The IANA zone names of the time zone database, without the system's own aliases
    (``localtime`` is whatever the server runs in; ``Factory`` is a placeholder)."""
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


@dataclass(frozen=True)
class Schedule:
    """A checked cron expression in a time zone (build it with `schedule`)."""

    cron: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def fires(self, after: datetime) -> Iterator[datetime]:
        """The fire times strictly after ``after`` (an aware instant), in UTC, ascending,
        without end (unless the expression stops matching within cronsim's 50-year window)."""
        if after.tzinfo is None:
            raise ValueError("the instant must be timezone-aware")
        previous = after.astimezone(UTC)
        for local in CronSim(self.cron, previous.astimezone(self.zone)):
            instant = local.astimezone(UTC)
            if instant > previous:
                yield instant
                previous = instant

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (None: it never fires again)."""
        return next(self.fires(after), None)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire times after ``after`` (fewer if it stops firing)."""
        times: list[datetime] = []
        for instant in self.fires(after):
            if len(times) == count:
                break
            times.append(instant)
        return times

    def latest_fire(self, first: datetime, until: datetime) -> datetime:
        """The latest fire time in ``[first, until]``, where ``first`` is a fire time due by
        ``until``: the one run that stands for all the runs missed while nothing ran (a
        scheduler that was down sends the newest report once, not a backlog)."""
        latest = first
        for seen, instant in enumerate(self.fires(first)):
            if instant > until or seen >= MAX_CATCH_UP:
                break
            latest = instant
        return latest


def schedule(cron: str, timezone: str) -> Schedule:
    """A schedule from user input (raises `InvalidCommand` with code ``invalid_cron``,
    ``schedule_too_frequent`` or ``unknown_timezone``)."""
    return Schedule(cron=subscription_cron(cron), timezone=parse_time_zone(timezone))


def as_utc(instant: datetime) -> datetime:
    """An aware instant in UTC (events and read models store instants this way)."""
    if instant.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    return instant.astimezone(UTC)
