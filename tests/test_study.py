"""wf.Study against the real simulator: record, move, replay offline; integrity, results, atomicity."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

ROOT = Path(__file__).resolve().parent.parent
WEEK = ("2026-11-02", "2026-11-09")


def fetch_all(client) -> dict[str, pd.DataFrame]:
    """Every fetch function once (the changelog included)."""
    devs = wf.devices(client, DEMO_ORG, details=True)
    return {
        "orgs": wf.organizations(client),
        "devs": devs,
        "daily": wf.daily_consumption(client, DEMO_ORG, *WEEK, tz="Europe/Berlin"),
        "tel": wf.telemetry(client, devs.iloc[:3], *WEEK, tz="Europe/Berlin"),
        "fields": wf.fields(client, devs.index[:2]),
        "changes": wf.changes(client, DEMO_ORG, "2026-01-01"),
    }


def sim_client_kwargs(sim) -> dict:
    return {"base_url": sim.base_url, "username": sim.username, "password": sim.password}


@pytest.fixture
def recorded(sim, tmp_path):
    """A study recorded from the simulator: (path, frames, the token the recording used)."""
    path = tmp_path / "first" / "2026-11-demo"
    sim.log.clear()
    with wf.Study(path, params={"month": "2026-11"}) as study:
        assert study.mode == "record"
        client = study.client(progress=False, **sim_client_kwargs(sim))
        frames = fetch_all(client)
        token = client._tokens._current[0].reveal()
        for name, df in frames.items():
            study.check(name, df)
        study.check("total", float(frames["daily"]["consumption"].sum()))
        study.check("counts", {"devices": len(frames["devs"]), "max": np.float64(1.25)})
    return path, frames, token


def folder_state(path: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
    }


def test_moved_study_replays_every_fetch_offline_with_zero_requests(
    sim, recorded, tmp_path, monkeypatch
):
    path, frames, _ = recorded
    moved = tmp_path / "elsewhere" / path.name
    shutil.copytree(path, moved)
    shutil.rmtree(path)  # the original is gone: the copy is self-contained
    for var in ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    before = len(sim.log)
    study = wf.Study(moved, params={"month": "2026-11"})
    assert study.mode == "replay"
    client = study.client(progress=False)
    replay = fetch_all(client)
    assert len(sim.log) == before and client.requests_sent == 0 and client.logins == 0
    for name, df in frames.items():
        pd.testing.assert_frame_equal(replay[name], df, check_exact=True, obj=name)
        study.check(name, replay[name])
    assert len(frames["changes"]) > 0  # the changelog is part of the study
    study.check("total", float(replay["daily"]["consumption"].sum()))
    study.check("counts", {"devices": len(replay["devs"]), "max": 1.25})
    study.close()


def test_manifest_names_the_study_and_holds_no_credentials(sim, recorded):
    path, frames, token = recorded
    manifest = wf.Study(path).manifest
    assert manifest["name"] == "2026-11-demo"
    assert manifest["params"] == {"month": "2026-11"}
    assert manifest["orgs"] == [DEMO_ORG]
    assert manifest["base_url"] == sim.base_url
    assert pd.Timestamp(manifest["recorded_at"]).tzinfo is not None
    assert {"python", "pandas", "requests-cache", "waltero_frames"} <= manifest["versions"].keys()
    # every distinct call the server answered during the recording, login excluded
    calls = {(r["path"], str(r["query"])) for r in sim.log if not r["path"].endswith("/login")}
    assert manifest["requests"] == len(calls) > len(frames["devs"])
    assert manifest["checksum"].startswith("sha256:")
    assert sorted(p.name for p in path.iterdir()) == sorted(["manifest.json", manifest["answers"]])


def test_no_secret_in_any_byte_of_the_study(sim, recorded):
    path, _, token = recorded
    signature = token.rsplit(".", 1)[1]
    secrets = [sim.password, token, signature, "Bearer"]
    blobs = [p.read_bytes() for p in path.rglob("*")]
    with sqlite3.connect(path / wf.Study(path).manifest["answers"]) as con:
        rows = [v for (v,) in con.execute("SELECT value FROM responses")]
    assert rows
    blobs += [zlib.decompress(v) for v in rows]
    for blob in blobs:
        for secret in secrets:
            assert secret.encode() not in blob, secret[:8]
        assert b"eyJ" not in blob  # no JWT at all (base64 of '{"')


def test_replay_writes_nothing_even_with_concurrent_threads_and_processes(sim, recorded):
    path, frames, _ = recorded
    before = folder_state(path)
    code = (
        "import waltero_frames as wf, sys\n"
        "s = wf.Study(sys.argv[1]); c = s.client(progress=False)\n"
        f"d = wf.devices(c, {DEMO_ORG!r}, details=True)\n"
        f"t = wf.telemetry(c, d.iloc[:3], {WEEK[0]!r}, {WEEK[1]!r}, tz='Europe/Berlin')\n"
        "s.check('tel', t); s.close(); print(len(t))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    errors: list[BaseException] = []

    def replay() -> None:
        try:
            study = wf.Study(path)
            got = fetch_all(study.client(progress=False))
            pd.testing.assert_frame_equal(got["tel"], frames["tel"])
            study.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=replay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert not errors, errors
    assert [p.returncode for p in procs] == [0, 0]
    assert {o.strip() for o in outs} == {str(len(frames["tel"])).encode()}
    assert folder_state(path) == before


def test_edited_answers_are_refused(recorded, tmp_path):
    path, _, _ = recorded
    copy = tmp_path / "tampered"
    shutil.copytree(path, copy)
    answers = copy / wf.Study(path).manifest["answers"]
    with sqlite3.connect(answers) as con:
        key, value = con.execute("SELECT key, value FROM responses LIMIT 1").fetchone()
        edited = zlib.compress(zlib.decompress(value).replace(b"1", b"2", 1))
        con.execute("UPDATE responses SET value = ? WHERE key = ?", (edited, key))
    with pytest.raises(wf.StudyIntegrityError, match="do not match the manifest"):
        wf.Study(copy)
    answers.unlink()
    with pytest.raises(wf.StudyIntegrityError, match="is missing"):
        wf.Study(copy)


def test_other_package_versions_give_one_warning_listing_them(recorded):
    path, _, _ = recorded
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["versions"].update(pandas="1.0.0", numpy="1.0.0")
    (path / "manifest.json").write_text(json.dumps(manifest))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = wf.Study(path)
    mine = [w for w in caught if issubclass(w.category, wf.StudyWarning)]
    assert len(mine) == 1
    text = str(mine[0].message)
    assert "numpy 1.0.0 -> " in text and "pandas 1.0.0 -> " in text
    assert study.mode == "replay"


def test_replay_miss_names_the_call_and_how_to_re_record(recorded):
    path, frames, _ = recorded
    client = wf.Study(path).client(progress=False)
    with pytest.raises(wf.CacheMiss) as err:
        wf.telemetry(client, frames["devs"].index[5], *WEEK)
    text = str(err.value)
    assert f"/api/devices/{frames['devs'].index[5]}/telemetry?startDate=" in text
    assert "mode='record'" in text and "waltero-frames study record" in text


def test_check_compares_exactly_and_names_the_first_differing_cells(recorded):
    path, frames, _ = recorded
    study = wf.Study(path)
    tel = frames["tel"].copy()
    stamp = tel.index[7]
    tel.iloc[7, tel.columns.get_loc("value")] += 1e-9  # exact for data: no tolerance
    with pytest.raises(wf.StudyMismatch, match="result 'tel' differs") as err:
        study.check("tel", tel)
    assert isinstance(err.value, AssertionError)
    assert f"row {str(stamp)!r}" in str(err.value) and "column 'value'" in str(err.value)
    with pytest.raises(wf.StudyMismatch, match=r"column 'multiplier': recorded dtype float64"):
        study.check("devs", frames["devs"].astype({"multiplier": "float32"}))
    with pytest.raises(wf.StudyMismatch, match=r"\['max'\]: recorded 1.25, now 1.5"):
        study.check("counts", {"devices": len(frames["devs"]), "max": 1.5})
    with pytest.raises(wf.StudyMismatch, match="recorded 2.0, now 3.0|recorded .*, now 3.0"):
        study.check("total", 3.0)
    with pytest.raises(wf.StudyMismatch, match="no result named 'nope'"):
        study.check("nope", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.check("counts", {"devices": 1, "max": 1.25}, informational=True)
    assert [str(w.message) for w in caught if w.category is wf.StudyWarning] == [
        f"study '{path.name}': result 'counts' differs from the recording: "
        f"['devices']: recorded {len(frames['devs'])}, now 1"
    ]
    study.check("daily", frames["daily"])  # equal: nothing


def test_series_and_informational_results_round_trip(sim, tmp_path):
    path = tmp_path / "s"
    s = pd.Series([1.0, np.nan, 3.0], index=pd.Index(["a", "b", "c"], name="k"), name="x")
    with wf.Study(path) as study:
        study.check("s", s)
        study.check("flags", {"spike": 3}, informational=True)
    study = wf.Study(path)
    study.check("s", s.copy())
    with pytest.raises(wf.StudyMismatch, match=r"row 'b', column 'x': recorded 'nan', now 2.0"):
        study.check("s", s.fillna(2.0))
    with pytest.warns(wf.StudyWarning, match=r"'flags'.*\['spike'\]: recorded 3, now 4"):
        study.check("flags", {"spike": 4})  # registered informational when recorded


def test_recording_over_a_study_needs_record_mode_and_replaces_it_atomically(sim, recorded):
    path, frames, _ = recorded
    old = wf.Study(path).manifest
    again = wf.Study(path)  # auto: an existing study replays, it is never overwritten
    assert again.mode == "replay"
    with pytest.raises(ValueError, match="recorded with params=.*'2026-11'.*'2026-10'"):
        wf.Study(path, params={"month": "2026-10"})
    rec = wf.Study(path, params={"month": "2026-10"}, mode="record")
    client = rec.client(progress=False, **sim_client_kwargs(sim))
    wf.organizations(client)
    rec.check("n", 1)
    # until it completes, the earlier study is intact and replays
    during = wf.Study(path, params={"month": "2026-11"})
    assert during.manifest == old
    pd.testing.assert_frame_equal(
        wf.devices(during.client(progress=False), DEMO_ORG, details=True), frames["devs"]
    )
    rec.close()
    new = wf.Study(path).manifest
    assert new["params"] == {"month": "2026-10"} and new["requests"] == 1
    assert sorted(p.name for p in path.iterdir()) == sorted(["manifest.json", new["answers"]])
    with pytest.raises(ValueError, match="is closed"):
        rec.client()


def test_a_failed_recording_leaves_the_earlier_study(sim, recorded):
    path, _, _ = recorded
    old = wf.Study(path).manifest
    with pytest.raises(RuntimeError, match="cell failed"), wf.Study(path, mode="record") as study:
        wf.organizations(study.client(progress=False, **sim_client_kwargs(sim)))
        raise RuntimeError("cell failed")
    assert wf.Study(path).manifest == old
    assert sorted(p.name for p in path.iterdir()) == sorted(["manifest.json", old["answers"]])


def test_outside_a_study_the_changelog_stays_uncached(sim, tmp_path):
    cache = tmp_path / "plain.sqlite"
    with wf.Client(sim.base_url, sim.username, sim.password, cache=cache) as live:
        wf.changes(live, DEMO_ORG, "2026-01-01")
    offline = wf.Client(sim.base_url, cache=cache, offline=True)
    with pytest.raises(wf.CacheMiss, match="data-audit/changes"):
        wf.changes(offline, DEMO_ORG, "2026-01-01")


def test_interpreter_exit_completes_a_recording_from_the_bundled_simulator(tmp_path):
    """No WALTERO_* settings: the study records from a simulator it starts itself, and the
    recording becomes the study when the interpreter exits (no close())."""
    path = tmp_path / "atexit"
    code = (
        "import waltero_frames as wf, sys\n"
        "s = wf.Study(sys.argv[1], params={'k': 1})\n"
        "c = s.client(progress=False)\n"
        "s.check('orgs', wf.organizations(c))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALTERO_")}
    subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=120,
    )
    study = wf.Study(path, params={"k": 1})
    assert study.manifest["requests"] == 1
    assert study.manifest["base_url"].startswith("http://127.0.0.1:")
    study.check("orgs", wf.organizations(study.client(progress=False)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "live"}, ValueError, "mode='live'"),
        ({"params": {"when": pd.Timestamp("2026-01-01")}}, ValueError, "JSON data"),
        ({"params": ["month"]}, ValueError, "dict with string keys"),
        ({"mode": "replay"}, FileNotFoundError, "no study at"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, error, match):
    path = tmp_path / "never"
    with pytest.raises(error, match=match):
        wf.Study(path, **kwargs)
    assert not path.exists()


def test_bad_checks_and_client_arguments(tmp_path):
    study = wf.Study(tmp_path / "s")
    with pytest.raises(ValueError, match="name=''"):
        study.check("", 1)
    with pytest.raises(ValueError, match="result 'obj'.*object values cannot be registered"):
        study.check("obj", object())
    with pytest.raises(ValueError, match="cache= is set by the study"):
        study.client(cache="x.sqlite")
    study.abort()
    assert not (tmp_path / "s" / "manifest.json").exists()
