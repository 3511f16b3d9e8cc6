"""Token and password never show in reprs, exceptions, logs (incl. http.client debug) or warnings."""

from __future__ import annotations

import gc
import http.client
import logging
import pickle
import warnings

import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG
from waltero_frames.transport.auth import Secret, mask

DAY = ("2026-06-01T00:00Z", "2026-06-02T00:00Z")


def secrets_of(client, sim):
    token = client._tokens._current[0].reveal()
    return [token, token.split(".")[2], sim.password]


def assert_clean(text, secrets):
    for s in secrets:
        assert s not in text


@pytest.fixture
def http_client_debug_to_logging():
    """The usual recipe: http.client's header dump routed into the ``http.client`` logger."""
    logger = logging.getLogger("http.client")

    def print_to_log(*args):
        logger.debug(" ".join(str(a) for a in args))

    old_level, old_print = (
        http.client.HTTPConnection.debuglevel,
        getattr(http.client, "print", print),
    )
    http.client.HTTPConnection.debuglevel = 1
    http.client.print = print_to_log
    try:
        yield
    finally:
        http.client.HTTPConnection.debuglevel = old_level
        http.client.print = old_print


def test_logs_never_show_secrets(waltero_sim, caplog, http_client_debug_to_logging):
    # Every live client's secrets are masked, whatever their length: collect the clients
    # earlier tests left in reference cycles, or a one-letter test password masks every "p".
    gc.collect()
    waltero_sim.config.rate = None
    caplog.set_level(logging.DEBUG)
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    wf.telemetry(client, wf.sim.DEMO_DEVICE, *DAY)
    text = caplog.text
    assert "Authorization" in text or "authorization" in text.lower()  # the dump did happen
    assert "Bearer ***" in text
    assert_clean(text, secrets_of(client, waltero_sim))
    assert "password" in text and "***" in text  # the login body was dumped, masked


def test_repr_state_and_pickling(waltero_sim):
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    client.me()
    secrets = secrets_of(client, waltero_sim)
    assert_clean(repr(client), secrets)
    assert_clean(repr(vars(client)), secrets)
    assert_clean(repr(vars(client._tokens)), secrets)
    assert_clean(str(client._tokens._current), secrets)
    with pytest.raises(TypeError):
        pickle.dumps(client)
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_exceptions_and_warnings_never_show_secrets(waltero_sim):
    waltero_sim.config.update(rate=None, fail=[{"status": 500, "path": "telemetry", "times": None}])
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    ids = list(waltero_sim.world.devices.index[:3])
    with pytest.raises(wf.errors.FetchFailed) as info:
        wf.telemetry(client, ids, *DAY)
    secrets = secrets_of(client, waltero_sim)
    for err in [info.value, *info.value.failures.values()]:
        assert_clean(str(err) + repr(err) + str(err.url), secrets)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = wf.telemetry(client, ids, *DAY, errors="warn")
    assert caught and df.empty
    assert_clean(" ".join(str(w.message) for w in caught) + repr(df.attrs), secrets)
    # an expired token on the wire: the 401 is replayed, the error (if any) has no token
    wrong = wf.Client(waltero_sim.base_url, waltero_sim.username, "not-the-password")
    with pytest.raises(wf.Unauthenticated) as info:
        wf.devices(wrong, DEMO_ORG)
    assert "not-the-password" not in str(info.value) + repr(info.value)


def test_mask_helper():
    s = Secret("tok.en.value")
    assert mask("Authorization: Bearer abc.def-ghi_jkl") == "Authorization: Bearer ***"
    assert mask("x tok.en.value y") == "x *** y"
    assert repr(s) == str(s) == "Secret('***')"
