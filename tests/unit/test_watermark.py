"""The log's watermark (domain/watermark.py): newest time less the lateness, never back."""

from datetime import UTC, datetime, timedelta

from makegood.domain.watermark import follow

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LATE = timedelta(minutes=2)


def test_the_watermark_is_the_newest_time_less_the_lateness_and_never_goes_back() -> None:
    times = [T, T + timedelta(minutes=10), T + timedelta(minutes=5), T + timedelta(minutes=11)]
    assert follow(None, times, LATE) == [
        T - LATE,
        T + timedelta(minutes=8),
        T + timedelta(minutes=8),  # an older event: the watermark stays
        T + timedelta(minutes=9),
    ]


def test_it_goes_on_from_where_the_partition_stood() -> None:
    base = T + timedelta(hours=1)
    assert follow(base, [T, T + timedelta(hours=2)], LATE) == [base, T + timedelta(hours=2) - LATE]
    assert follow(base, [], LATE) == []
