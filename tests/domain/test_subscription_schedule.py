"""Subscription schedules: fire times of a cron expression in a time zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidCommand
from domain.subscription.schedule import (
    Schedule,
    parse_cron,
    parse_time_zone,
    schedule,
    shortest_gap,
    subscription_cron,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str, *, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold)


# -- DST: the rules cron users expect -------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "cron", "after", "expected"),
    [
        # Europe/Berlin springs forward on 2026-03-29 at 02:00 → 03:00.
        (
            BERLIN,
            "0 9 * * *",
            "2026-03-27T12:00",
            ["2026-03-28T08:00", "2026-03-29T07:00", "2026-03-30T07:00"],
        ),
        # 02:30 does not exist on the 29th: it fires once, at 03:00 CEST (01:00 UTC).
        (
            BERLIN,
            "30 2 * * *",
            "2026-03-27T12:00",
            ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"],
        ),
        # Europe/Berlin falls back on 2026-10-25 at 03:00 → 02:00.
        (
            BERLIN,
            "0 9 * * *",
            "2026-10-23T12:00",
            ["2026-10-24T07:00", "2026-10-25T08:00", "2026-10-26T08:00"],
        ),
        # 02:30 happens twice on the 25th: it fires once, at the first (CEST, 00:30 UTC).
        (
            BERLIN,
            "30 2 * * *",
            "2026-10-23T12:00",
            ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30"],
        ),
        # America/New_York springs forward on 2026-03-08 at 02:00 → 03:00.
        (
            NEW_YORK,
            "0 9 * * *",
            "2026-03-07T00:00",
            ["2026-03-07T14:00", "2026-03-08T13:00", "2026-03-09T13:00"],
        ),
        (
            NEW_YORK,
            "30 2 * * *",
            "2026-03-07T00:00",
            ["2026-03-07T07:30", "2026-03-08T07:00", "2026-03-09T06:30"],
        ),
        # ... and falls back on 2026-11-01 at 02:00 → 01:00: 01:30 happens twice, 02:30 once.
        (
            NEW_YORK,
            "0 9 * * *",
            "2026-10-31T00:00",
            ["2026-10-31T13:00", "2026-11-01T14:00", "2026-11-02T14:00"],
        ),
        (
            NEW_YORK,
            "30 1 * * *",
            "2026-10-31T00:00",
            ["2026-10-31T05:30", "2026-11-01T05:30", "2026-11-02T06:30"],
        ),
        (
            NEW_YORK,
            "30 2 * * *",
            "2026-10-31T00:00",
            ["2026-10-31T06:30", "2026-11-01T07:30", "2026-11-02T07:30"],
        ),
    ],
)
def test_a_daily_schedule_fires_at_the_local_time_across_dst_changes(
    zone: str, cron: str, after: str, expected: list[str]
) -> None:
    fires = schedule(cron, zone).next_fires(utc(after), 3)
    assert fires == [utc(text) for text in expected]
    assert all(fire.tzinfo is UTC for fire in fires)


def test_a_time_that_does_not_exist_fires_at_the_first_valid_instant_after_the_gap() -> None:
    fire = schedule("30 2 * * *", BERLIN).next_after(utc("2026-03-28T12:00"))
    assert fire is not None
    assert fire.astimezone(ZoneInfo(BERLIN)).isoformat() == "2026-03-29T03:00:00+02:00"


def test_a_time_that_occurs_twice_fires_once_at_the_first_occurrence() -> None:
    berlin = ZoneInfo(BERLIN)
    fires = schedule("30 2 * * *", BERLIN).next_fires(utc("2026-10-24T12:00"), 2)
    assert [fire.astimezone(berlin).isoformat() for fire in fires] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_asked_between_the_two_occurrences_the_second_one_does_not_fire() -> None:
    # 02:15 CET, the second 02:15 of the night: 02:30 CEST has passed; 02:30 CET is skipped.
    after = local("2026-10-25T02:15", BERLIN, fold=1)
    assert schedule("30 2 * * *", BERLIN).next_after(after) == utc("2026-10-26T01:30")


def test_an_hourly_schedule_follows_elapsed_time_through_the_repeated_hour() -> None:
    fires = schedule("0 * * * *", BERLIN).next_fires(utc("2026-10-24T21:30"), 6)
    # Local 00:00, 01:00, 02:00 CEST, 02:00 CET, 03:00, 04:00: one fire every real hour.
    assert fires == [utc("2026-10-24T22:00") + timedelta(hours=hour) for hour in range(6)]


def test_an_hourly_schedule_skips_the_hour_that_does_not_exist() -> None:
    berlin = ZoneInfo(BERLIN)
    fires = schedule("0 * * * *", BERLIN).next_fires(utc("2026-03-28T23:30"), 3)
    assert [f.astimezone(berlin).strftime("%H:%M%z") for f in fires] == [
        "01:00+0100",
        "03:00+0200",
        "04:00+0200",
    ]


def test_the_latest_fire_time_stands_for_the_missed_runs() -> None:
    daily = schedule("0 9 * * *", "UTC")
    first = utc("2026-05-01T09:00")
    assert daily.latest_fire(first, utc("2026-05-04T10:00")) == utc("2026-05-04T09:00")
    assert daily.latest_fire(first, utc("2026-05-01T09:00")) == first


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cron",
    [
        "0 9 * *",  # four fields
        "0 0 9 * * *",  # six fields (seconds): not a five-field expression
        "61 * * * *",
        "0 25 * * *",
        "0 9 * * MONDAY",
        "0 0 31 2 *",  # never fires
        "",
        "x" * 300,
    ],
)
def test_an_invalid_cron_expression_is_refused(cron: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_cron(cron)
    assert refused.value.code == "invalid_cron"


#: Any instant to start looking from.
AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [
        ("* * * * *", 1),
        ("*/4 * * * *", 4),
        ("0-2 9 * * MON-FRI", 1),  # three runs in a row each weekday
        ("0,58 0,23 * * *", 2),  # 23:58, then 00:00 the next day
    ],
)
def test_a_subscription_may_not_fire_more_often_than_every_five_minutes(
    cron: str, minutes: int
) -> None:
    with pytest.raises(InvalidCommand, match=f"fires {minutes} minutes? apart") as refused:
        subscription_cron(cron)
    assert refused.value.code == "schedule_too_frequent"
    with pytest.raises(InvalidCommand):
        schedule(cron, "UTC")
    # The schedule itself is valid: stored before the limit, it still fires as written.
    assert Schedule(cron=parse_cron(cron), timezone="UTC").next_fires(AT, 2)


@pytest.mark.parametrize(
    ("cron", "gap"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("0 9 * * MON-FRI", timedelta(days=1)),
        ("30 8,17 * * *", timedelta(hours=9)),
        ("55 23 * * *", timedelta(days=1)),
        ("0,55 0,23 * * *", timedelta(minutes=5)),
    ],
)
def test_schedules_five_minutes_apart_or_more_are_accepted(cron: str, gap: timedelta) -> None:
    assert subscription_cron(cron) == cron
    assert shortest_gap(CronSim(cron, AT)) == gap


def test_a_cron_expression_is_normalised() -> None:
    assert parse_cron("  0  9 *   * mon-fri ") == "0 9 * * MON-FRI"


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "",
        "Europe/",
        "localtime",  # the server's own zone, not a name
        "posix/Europe/Berlin",
        "zone.tab",
    ],
)
def test_an_unknown_time_zone_is_refused(zone: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        parse_time_zone(zone)
    assert refused.value.code == "unknown_timezone"


def test_iana_time_zones_are_accepted() -> None:
    for zone in ("UTC", "Europe/Berlin", "America/Argentina/Salta", "Etc/GMT+5"):
        assert parse_time_zone(zone) == zone


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule("0 9 * * *", "UTC").next_after(datetime(2026, 1, 1))  # noqa: DTZ001


# -- properties -----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kolkata",  # +05:30, no DST
    "America/Sao_Paulo",  # DST until 2019, at midnight
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Havana",  # DST changes at midnight
]


def _field(
    values: range, *, size: int, every: range | None = None
) -> st.SearchStrategy[tuple[str, frozenset[int]]]:
    """A cron field: ``*`` (allowing ``every``, default ``values``) or a comma-separated list
    of ``values``, with the values it allows."""
    star = st.just(("*", frozenset(every or values)))
    listed = st.lists(st.sampled_from(values), min_size=1, max_size=size, unique=True).map(
        lambda chosen: (",".join(str(v) for v in sorted(chosen)), frozenset(chosen))
    )
    return st.one_of(star, listed)


@st.composite
def crons(draw: st.DrawFn) -> tuple[str, dict[str, frozenset[int]], bool]:
    """(expression, allowed values per field, whether days are ANDed)."""
    minute = draw(_field(range(60), size=3))
    hour = draw(_field(range(24), size=3))
    dom = draw(_field(range(1, 29), size=3, every=range(1, 32)))
    month = draw(_field(range(1, 13), size=4))
    dow = draw(_field(range(7), size=3))
    expression = " ".join(f for f, _ in (minute, hour, dom, month, dow))
    allowed = {
        "minute": minute[1],
        "hour": hour[1],
        "dom": dom[1],
        "month": month[1],
        "dow": dow[1],
    }
    return expression, allowed, dom[0] == "*" or dow[0] == "*"


def _matches(moment: datetime, allowed: dict[str, frozenset[int]], *, days_and: bool) -> bool:
    dom_ok = moment.day in allowed["dom"]
    dow_ok = (moment.weekday() + 1) % 7 in allowed["dow"]
    day_ok = (dom_ok and dow_ok) if days_and else (dom_ok or dow_ok)
    return (
        moment.minute in allowed["minute"]
        and moment.hour in allowed["hour"]
        and moment.month in allowed["month"]
        and moment.second == 0
        and day_ok
    )


def _just_after_a_gap(instant: datetime, zone: ZoneInfo) -> bool:
    """The instant is the first one after clocks sprang forward (a gap in local time)."""
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = instant.astimezone(zone).utcoffset()
    return before is not None and after is not None and after > before


instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - made aware below
    max_value=datetime(2037, 12, 31),  # noqa: DTZ001
).map(lambda moment: moment.replace(tzinfo=UTC))


@settings(max_examples=300, deadline=None)
@given(cron=crons(), zone=st.sampled_from(ZONES), after=instants)
def test_fire_times_increase_strictly_and_match_the_fields_in_local_time(
    cron: tuple[str, dict[str, frozenset[int]], bool], zone: str, after: datetime
) -> None:
    expression, allowed, days_and = cron
    tz = ZoneInfo(zone)
    # Any expression, as stored (also from before the frequency limit).
    fires = Schedule(cron=parse_cron(expression), timezone=zone).next_fires(after, 12)
    assert fires, "every generated expression matches some day within a few years"
    previous = after
    for fire in fires:
        assert fire.tzinfo is UTC
        assert fire > previous
        previous = fire
        moment = fire.astimezone(tz)
        assert _matches(moment, allowed, days_and=days_and) or _just_after_a_gap(fire, tz), (
            f"{expression} in {zone}: {moment.isoformat()} matches no field value"
        )


@settings(max_examples=60, deadline=None)
@given(cron=crons(), after=instants)
def test_in_utc_no_matching_minute_between_two_fire_times_is_missed(
    cron: tuple[str, dict[str, frozenset[int]], bool], after: datetime
) -> None:
    expression, allowed, days_and = cron
    fires = Schedule(cron=parse_cron(expression), timezone="UTC").next_fires(after, 3)
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for fire in fires:
        if fire - start > timedelta(days=2):  # sparse schedules: only look at short gaps
            start = fire + timedelta(minutes=1)
            continue
        minute = start
        while minute < fire:
            assert not _matches(minute, allowed, days_and=days_and), (
                f"{expression}: {minute.isoformat()} was skipped"
            )
            minute += timedelta(minutes=1)
        start = fire + timedelta(minutes=1)
