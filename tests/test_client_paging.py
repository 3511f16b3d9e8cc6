"""The window splitter, the pagers, the retry policy and the pacer, on fakes (no server),
plus the progress bar over real HTTP."""

from __future__ import annotations

import pandas as pd
import pytest
import requests

import waltero_frames as wf
from waltero_frames.api import parse
from waltero_frames.api.paging import MAX_WINDOW, cursor_pages, offset_pages, split_range
from waltero_frames.errors import UnexpectedResponse
from waltero_frames.transport.limiter import AdaptiveLimiter
from waltero_frames.transport.retry import RetryPolicy


# ---------------------------------------------------------------- windows
@pytest.mark.parametrize(
    ("start", "end", "n"),
    [
        ("2026-01-01", "2026-01-02", 1),
        ("2026-01-01", "2026-02-01", 1),  # exactly 31 days: one window
        ("2026-01-01", "2026-02-01 00:00:00.001", 2),
        ("2026-01-01", "2026-04-01", 3),
        ("2025-12-01T22:00", "2026-12-01T21:59", 12),
    ],
)
def test_split_range_covers_exactly(start, end, n):
    s, e = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    windows = split_range(s, e)
    assert len(windows) == n
    assert windows[0][0] == s and windows[-1][1] == e
    for (_, a1), (b0, _) in zip(windows, windows[1:], strict=False):
        assert a1 == b0  # seams shared: [a0, a1) then [a1, …)
    assert all(w1 - w0 <= MAX_WINDOW for w0, w1 in windows)


def test_split_range_refuses_empty():
    with pytest.raises(ValueError):
        split_range(pd.Timestamp("2026-01-02"), pd.Timestamp("2026-01-01"))


# ---------------------------------------------------------------- offset pager
def fake_listing(items, cap=2, mutate=None):
    calls = []

    def fetch(limit, offset):
        calls.append((limit, offset))
        if mutate and len(calls) == 2:
            mutate(items)
        page = items[offset : offset + min(limit, cap)]
        return {
            "data": page,
            "meta": {"total": len(items), "limit": min(limit, cap), "offset": offset},
        }

    return fetch, calls


def test_offset_pager_follows_what_the_server_returns():
    fetch, calls = fake_listing(list(range(7)), cap=3)
    pages = list(offset_pages(fetch, limit=100))
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    assert calls == [(100, 0), (100, 3), (100, 6)]


def test_offset_pager_stops_on_empty_page_and_bad_shape():
    assert list(offset_pages(lambda limit, offset: {"data": [], "meta": {"total": 5}})) == [[]]
    with pytest.raises(UnexpectedResponse, match="total"):
        list(offset_pages(lambda limit, offset: {"data": [1], "meta": {}}))
    with pytest.raises(UnexpectedResponse):
        list(offset_pages(lambda limit, offset: [1, 2]))


def test_offset_pager_with_a_shifting_list_is_deduped_by_the_frame():
    items = [{"id": f"{i:08d}-0000-0000-0000-000000000000", "name": str(i)} for i in range(5)]
    fetch, _ = fake_listing(
        items, cap=2, mutate=lambda xs: xs.insert(0, xs[0])
    )  # a repeat shows up
    rows = [row for page in offset_pages(fetch) for row in page]
    df = parse.parse_devices(rows)
    assert df.index.is_unique and len(df) == 5


# ---------------------------------------------------------------- cursor pager
def test_cursor_pager_follows_to_null():
    pages = {None: ([1, 2], "a"), "a": ([2, 3], "b"), "b": ([4], None)}
    seen = []

    def fetch(cursor):
        seen.append(cursor)
        data, nxt = pages[cursor]
        return {"data": data, "nextCursor": nxt}

    assert list(cursor_pages(fetch)) == [[1, 2], [2, 3], [4]]
    assert seen == [None, "a", "b"]


def test_cursor_pager_detects_loops():
    with pytest.raises(UnexpectedResponse, match="loops"):
        list(cursor_pages(lambda c: {"data": [1], "nextCursor": "same"}))
    with pytest.raises(UnexpectedResponse):
        list(cursor_pages(lambda c: {"items": []}))


# ---------------------------------------------------------------- retry policy (fakes)
def response(status, retry_after=None):
    r = requests.Response()
    r.status_code = status
    if retry_after is not None:
        r.headers["Retry-After"] = str(retry_after)
    return r


def run_policy(statuses, **settings):
    sleeps, sent = [], []
    script = iter(statuses)

    def send():
        status = next(script)
        sent.append(status)
        if isinstance(status, Exception):
            raise status
        return response(*status) if isinstance(status, tuple) else response(status)

    policy = RetryPolicy(sleep=sleeps.append, **settings)
    return policy.call(send), sent, sleeps


def test_429_honours_retry_after_and_jitters_without_it():
    final, sent, sleeps = run_policy([(429, 3), 429, 429, 200], backoff_base=0.5, backoff_cap=8)
    assert final.status_code == 200 and len(sent) == 4
    assert sleeps[0] >= 3.0  # the header is a floor
    assert 0 <= sleeps[1] <= 1.0 and 0 <= sleeps[2] <= 2.0  # full jitter: uniform(0, base·2^n)


def test_429_is_bounded():
    final, sent, _ = run_policy([429] * 20, rate_limit_attempts=4)
    assert final.status_code == 429 and len(sent) == 4


def test_500_once_then_gives_up():
    final, sent, _ = run_policy([500, 200])
    assert final.status_code == 200 and sent == [500, 200]
    final, sent, _ = run_policy([500, 500, 200])
    assert final.status_code == 500 and sent == [500, 500]


def test_connection_errors_like_500():
    final, sent, _ = run_policy([requests.ConnectionError("reset"), 200])
    assert final.status_code == 200
    with pytest.raises(requests.Timeout):
        run_policy([requests.Timeout("t"), requests.Timeout("t"), 200])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 418])
def test_other_4xx_never_retried(status):
    final, sent, sleeps = run_policy([status, 200])
    assert final.status_code == status and sent == [status] and sleeps == []


def test_429_then_500_mix():
    final, sent, _ = run_policy([429, 500, 429, 200])
    assert final.status_code == 200 and sent == [429, 500, 429, 200]


# ---------------------------------------------------------------- pacer (fake clock)
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_limiter_learns_the_rate_between_episodes():
    clock = FakeClock()
    lim = AdaptiveLimiter(clock=clock, sleep=clock.sleep, growth=0.0)
    # unpaced: 30 successes in the first 0.5 s (a burst), then a 429
    for _ in range(30):
        lim.acquire()
        lim.on_success()
        clock.now += 1 / 60
    lim.on_throttle(1.0)
    assert lim.rate == pytest.approx(0.95 * 30 / 1.0)  # first estimate: includes the burst
    # the gate holds everyone for Retry-After
    waited = lim.acquire()
    assert waited == pytest.approx(1.0, abs=1e-6)
    # the server grants 20/s: 40 successes in 2 s until the next 429
    t1 = clock.now - waited
    clock.now = t1 + 2.0
    for _ in range(40):
        lim.on_success()
    lim.on_throttle(1.0)
    assert lim.rate == pytest.approx(0.95 * 40 / 2.0)
    # same episode: more 429s do not cut again
    lim.on_throttle(1.0)
    assert lim.rate == pytest.approx(19.0) and lim.episodes == 2 and lim.throttles == 3
    # paced: slots 1/rate apart after the gate
    clock.now += 1.0
    start = clock.now
    for _ in range(19):
        lim.acquire()
    assert clock.now - start == pytest.approx(18 / 19.0)


def test_limiter_grows_slowly_without_429():
    lim = AdaptiveLimiter(rate=10.0, growth=0.5)
    for _ in range(10):  # ~1 s of successes at 10/s
        lim.on_success()
    assert lim.rate == pytest.approx(10.5, rel=0.01)


# ---------------------------------------------------------------- progress bar
def test_progress_bar_shows_only_when_asked(waltero_sim, capsys):
    waltero_sim.config.rate = None
    ids = list(waltero_sim.world.devices.index[:3])
    quiet = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=False
    )
    wf.fields(quiet, ids)
    assert "fields" not in capsys.readouterr().err
    loud = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=True
    )
    wf.fields(loud, ids)
    err = capsys.readouterr().err
    assert "fields" in err and "/3 " in err  # a bar over the 3 device calls
