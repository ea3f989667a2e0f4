from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_notifications.domain.circuit_breaker import BreakerState, CircuitBreaker
from alliance_notifications.domain.retry_policy import RetryPolicy
from tests.unit.notifications.notifications_support import NOW

POLICY = RetryPolicy()


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_every_delay_is_within_zero_and_the_cap(failed_attempts: int, seed: int) -> None:
    policy = RetryPolicy(max_attempts=100)

    delay = policy.delay_after(failed_attempts, random.Random(seed))

    if failed_attempts >= policy.max_attempts:
        assert delay is None
    else:
        assert delay is not None
        ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** (failed_attempts - 1))
        assert timedelta(0) <= delay <= timedelta(seconds=ceiling) <= timedelta(seconds=policy.cap_seconds)


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_attempts_stop_at_the_configured_maximum(max_attempts: int, seed: int) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    rng = random.Random(seed)

    delays = []
    failed = 1
    while (delay := policy.delay_after(failed, rng)) is not None:
        delays.append(delay)
        failed += 1

    assert failed == max_attempts  # the last attempt's failure is final
    assert len(delays) == max_attempts - 1


def state_of(subject: CircuitBreaker) -> BreakerState:
    """Read afresh: mypy keeps an attribute narrowed by an earlier assert across method calls."""
    return subject.state


def test_the_defaults_spread_retries_over_hours() -> None:
    ceilings = [POLICY.ceiling_seconds(n) for n in range(1, POLICY.max_attempts)]

    assert ceilings[:4] == [30, 60, 120, 240]
    assert ceilings[-1] == 3600
    assert 4 * 3600 < sum(ceilings) < 6 * 3600


def test_the_jitter_source_makes_the_schedule_reproducible() -> None:
    first = [POLICY.delay_after(n, random.Random(7)) for n in range(1, 12)]
    second = [POLICY.delay_after(n, random.Random(7)) for n in range(1, 12)]

    assert first == second


def test_a_cap_below_the_base_is_refused() -> None:
    with pytest.raises(ValueError, match="cap"):
        RetryPolicy(base_seconds=60, cap_seconds=30)


def breaker() -> CircuitBreaker:
    return CircuitBreaker(endpoint_id="wh-1", failure_threshold=3, cool_down_seconds=300)


def test_the_breaker_opens_after_consecutive_failures() -> None:
    cb = breaker()
    for _ in range(2):
        assert cb.allow_request(NOW)
        cb.record_failure(NOW)
    assert state_of(cb) is BreakerState.CLOSED

    cb.record_failure(NOW)

    assert state_of(cb) is BreakerState.OPEN
    assert not cb.allow_request(NOW + timedelta(seconds=299))
    assert cb.retry_at(NOW + timedelta(seconds=10)) == NOW + timedelta(seconds=300)


def test_a_success_resets_the_failure_count() -> None:
    cb = breaker()
    cb.record_failure(NOW)
    cb.record_failure(NOW)
    cb.record_success()
    cb.record_failure(NOW)

    assert state_of(cb) is BreakerState.CLOSED
    assert cb.consecutive_failures == 1


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    cb = breaker()
    for _ in range(3):
        cb.record_failure(NOW)
    later = NOW + timedelta(seconds=300)

    assert cb.allow_request(later)
    assert state_of(cb) is BreakerState.HALF_OPEN
    assert not cb.allow_request(later + timedelta(seconds=1))  # the probe is in flight

    cb.record_success()
    assert state_of(cb) is BreakerState.CLOSED
    assert cb.allow_request(later + timedelta(seconds=2))


def test_a_failed_probe_opens_the_breaker_again() -> None:
    cb = breaker()
    for _ in range(3):
        cb.record_failure(NOW)
    later = NOW + timedelta(seconds=300)
    assert cb.allow_request(later)

    cb.record_failure(later)

    assert state_of(cb) is BreakerState.OPEN
    assert cb.opened_at == later
    assert not cb.allow_request(later + timedelta(seconds=299))
    assert cb.allow_request(later + timedelta(seconds=300))


def test_a_lost_probe_is_replaced_after_another_cool_down() -> None:
    cb = breaker()
    for _ in range(3):
        cb.record_failure(NOW)
    probe_time = NOW + timedelta(seconds=300)
    assert cb.allow_request(probe_time)

    assert not cb.allow_request(probe_time + timedelta(seconds=299))
    assert cb.allow_request(probe_time + timedelta(seconds=300))
    assert CircuitBreaker.from_document(cb.to_document()) == cb
