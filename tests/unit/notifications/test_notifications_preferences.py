from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import DomainError
from tests.unit.notifications.notifications_support import NOW

NIGHT = QuietHours(start=time(22, 0), end=time(7, 0))
LUNCH = QuietHours(start=time(12, 0), end=time(13, 30))


def test_everything_is_on_by_default_with_night_quiet_hours() -> None:
    prefs = Preferences.defaults("partner:col-001")

    assert all(prefs.allows(category, channel) for category in Category for channel in Channel)
    assert prefs.quiet_hours == NIGHT


def test_operational_email_can_be_muted_and_unmuted() -> None:
    prefs = Preferences.defaults("partner:col-001")

    prefs.set_channel(Category.OPERATIONAL, Channel.EMAIL, False, NOW, "wang")
    assert not prefs.allows(Category.OPERATIONAL, Channel.EMAIL)
    assert prefs.allows(Category.OPERATIONAL, Channel.INBOX)
    assert prefs.allows(Category.REGULATORY, Channel.EMAIL)
    assert (prefs.updated_at, prefs.updated_by) == (NOW, "wang")

    prefs.set_channel(Category.OPERATIONAL, Channel.EMAIL, True, NOW, "wang")
    assert prefs.allows(Category.OPERATIONAL, Channel.EMAIL)
    assert prefs.muted == {}


@pytest.mark.parametrize("channel", list(Channel))
def test_regulatory_notices_cannot_be_muted(channel: Channel) -> None:
    prefs = Preferences.defaults("partner:col-001")

    with pytest.raises(DomainError) as refused:
        prefs.set_channel(Category.REGULATORY, channel, False, NOW, "wang")

    assert refused.value.code == "preferences.regulatory_mandatory"
    assert prefs.allows(Category.REGULATORY, channel)


def test_preferences_round_trip_through_a_document_without_time_objects() -> None:
    prefs = Preferences.defaults("member:officer-zhang")
    prefs.set_channel(Category.DIGEST_ONLY, Channel.EMAIL, False, NOW, "officer-zhang")
    prefs.set_quiet_hours(LUNCH, NOW, "officer-zhang")

    document = prefs.to_document()

    assert document["quiet_hours"] == {"start": "12:00:00", "end": "13:30:00"}
    assert Preferences.from_document(document) == prefs


def test_quiet_hours_across_midnight_release_at_the_next_morning() -> None:
    before_midnight = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    after_midnight = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 02:00 on the 11th in Shanghai
    seven_on_the_11th = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)

    assert NIGHT.release_at(before_midnight, "Asia/Shanghai") == seven_on_the_11th
    assert NIGHT.release_at(after_midnight, "Asia/Shanghai") == seven_on_the_11th
    assert NIGHT.release_at(seven_on_the_11th, "Asia/Shanghai") is None  # the end is not quiet
    assert NIGHT.release_at(seven_on_the_11th - timedelta(seconds=1), "Asia/Shanghai") == seven_on_the_11th
    assert NIGHT.release_at(datetime(2026, 3, 10, 13, 59, tzinfo=UTC), "Asia/Shanghai") is None  # 21:59


def test_quiet_hours_follow_the_recipients_time_zone() -> None:
    instant = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 23:00 Shanghai, 16:00 Berlin, 11:00 New York

    assert NIGHT.release_at(instant, "Asia/Shanghai") is not None
    assert NIGHT.release_at(instant, "Europe/Berlin") is None
    assert NIGHT.release_at(datetime(2026, 3, 11, 3, 0, tzinfo=UTC), "America/New_York") == datetime(
        2026, 3, 11, 11, 0, tzinfo=UTC
    )  # 23:00 EDT → 07:00 EDT


def test_quiet_hours_within_one_day() -> None:
    at_half_twelve = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai

    assert LUNCH.release_at(at_half_twelve, "Asia/Shanghai") == datetime(2026, 3, 10, 5, 30, tzinfo=UTC)
    assert LUNCH.release_at(at_half_twelve + timedelta(hours=1), "Asia/Shanghai") is None


def test_quiet_hours_across_a_daylight_saving_change() -> None:
    # Berlin springs forward on 29 March 2026: 02:00 CET becomes 03:00 CEST.
    night_before = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)  # 23:30 CET

    assert NIGHT.release_at(night_before, "Europe/Berlin") == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)  # 07:00 CEST


def test_empty_quiet_hours_are_refused() -> None:
    with pytest.raises(DomainError) as refused:
        QuietHours.between(time(22, 0), time(22, 0))
    assert refused.value.code == "preferences.quiet_hours_empty"


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
    st.times(),
    st.times(),
)
def test_a_released_email_leaves_quiet_hours_within_a_day(
    instant: datetime, time_zone: str, start: time, end: time
) -> None:
    if start == end:
        return
    quiet = QuietHours(start=start, end=end)

    release = quiet.release_at(instant, time_zone)

    if release is not None:
        assert instant <= release <= instant + timedelta(hours=25)
        assert quiet.release_at(release, time_zone) is None or release == instant
