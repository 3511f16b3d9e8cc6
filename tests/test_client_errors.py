"""The WalteroError family: mapping from responses, secret-free URLs, pickling."""

from __future__ import annotations

import pickle

import pytest

import waltero_frames as wf
from waltero_frames.errors import FetchFailed, error_from_response, safe_url


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BAD_REQUEST", wf.BadRequest),
        (401, "UNAUTHENTICATED", wf.Unauthenticated),
        (403, "FORBIDDEN", wf.Forbidden),
        (404, "NOT_FOUND", wf.NotFound),
        (429, "RATE_LIMITED", wf.RateLimited),
        (500, "INTERNAL_ERROR", wf.ServerError),
        # no/odd body: the status decides
        (404, None, wf.NotFound),
        (502, None, wf.ServerError),
        (418, None, wf.WalteroError),
    ],
)
def test_error_from_response_picks_the_class(status, code, cls):
    body = {"code": code, "message": "went wrong"} if code else "<html>oops</html>"
    err = error_from_response(status, body, "http://127.0.0.1:1/api/x")
    assert type(err) is cls
    assert isinstance(err, wf.WalteroError)
    assert err.status == status
    assert err.code == (code or cls.default_code)
    assert err.message == ("went wrong" if code else f"HTTP {status}")
    assert str(status) in str(err) and err.message in str(err)


def test_url_loses_userinfo_and_token_params():
    url = "https://user:hunter2@h.example/prod/api/x?since=2026&access_token=tok123&apiKey=k9"
    clean = safe_url(url)
    assert "hunter2" not in clean and "tok123" not in clean and "k9" not in clean
    assert clean.startswith("https://h.example/prod/api/x?since=2026")
    err = error_from_response(404, {"code": "NOT_FOUND", "message": "m"}, url)
    assert err.url == clean
    assert "tok123" not in str(err) and "hunter2" not in repr(err)


def test_errors_pickle_round_trip():
    err = wf.NotFound("gone", status=404, url="http://127.0.0.1/api/devices/x")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.status, back.code, back.url, back.message) == (
        wf.NotFound,
        404,
        "NOT_FOUND",
        err.url,
        "gone",
    )
    ff = FetchFailed("2 devices failed", failures={"a": err})
    back = pickle.loads(pickle.dumps(ff))
    assert back.failures["a"].status == 404 and back.message == "2 devices failed"


def test_cache_miss_is_a_waltero_error():
    assert issubclass(wf.CacheMiss, wf.WalteroError)
    assert wf.CacheMiss("not cached: GET /api/auth/me").code == "CACHE_MISS"
