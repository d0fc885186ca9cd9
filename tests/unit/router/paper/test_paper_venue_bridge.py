"""The venue-server bridge: the shared book exposes the whole book API, the clock replays."""

from __future__ import annotations

from router.paper.venue import SharedBook, VenueClock
from venues.orderbook import OrderBook


def test_shared_book_exposes_every_public_name_of_the_book():
    public = {name for name in dir(OrderBook) if not name.startswith("_")}
    missing = sorted(name for name in public if not hasattr(SharedBook, name))
    assert not missing, (
        f"SharedBook lacks {missing}: add them (explicitly) in router/paper/venue.py"
    )


def test_venue_clock_fixes_the_time_only_inside_at():
    now = [5_000]
    clock = VenueClock(lambda: now[0])
    assert clock.now_ms() == 5_000
    with clock.at(1_234):
        now[0] = 9_000
        assert clock.now_ms() == 1_234
    assert clock.now_ms() == 9_000
