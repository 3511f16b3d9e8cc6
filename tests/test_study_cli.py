"""``waltero-frames study info | record | verify`` with real notebooks, kernels and simulator."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import waltero_frames as wf
from waltero_frames.cli import main

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOK = """\
# %% tags=["parameters"]
study_path = "study"
study_mode = "auto"
n = 3
# %%
import waltero_frames as wf
study = wf.Study(study_path, params={"n": n}, mode=study_mode)
client = study.client(progress=False)
devices = wf.devices(client, "00000000-0000-0000-0000-000000000001").head(n)
study.check("devices", devices)
study.check("name_lengths", {k: len(v) for k, v in devices["name"].items()})
# %%
FAIL_HERE
"""


@pytest.fixture
def tenant(waltero_sim, monkeypatch):
    waltero_sim.configure(rate=None, login_limit=None)
    monkeypatch.setenv("WALTERO_BASE_URL", waltero_sim.base_url)
    monkeypatch.setenv("WALTERO_USERNAME", waltero_sim.username)
    monkeypatch.setenv("WALTERO_PASSWORD", waltero_sim.password)
    return waltero_sim


def notebook(tmp_path: Path, name: str, last: str = "print('done')") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(NOTEBOOK.replace("FAIL_HERE", last))
    return path


def test_record_info_verify_and_a_tampered_copy(tenant, tmp_path, capsys):
    nb, study = notebook(tmp_path, "nb"), tmp_path / "studies" / "three"
    assert main(["study", "record", str(nb), str(study), "-p", "n", "3"]) == 0
    out = capsys.readouterr().out
    assert f"recorded {study}: 1 answers from {tenant.base_url}" in out
    assert "results: devices, name_lengths" in out

    assert main(["study", "info", str(study)]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["name"] == "three" and manifest["params"] == {"n": 3}
    assert manifest["results"] == {"devices": "frame 3 x 5", "name_lengths": "dict of 3"}
    assert main(["study", "info", "--json", str(study)]) == 0
    assert json.loads(capsys.readouterr().out) == wf.Study(study).manifest

    # offline: the kernel gets no WALTERO_* settings, the simulator sees no request
    before = len(tenant.log)
    assert main(["study", "verify", str(study), str(nb)]) == 0
    assert len(tenant.log) == before
    out = capsys.readouterr().out
    assert "1 answers match the checksum; nb.py replayed offline and reproduced" in out

    # a notebook whose numbers changed since the recording
    changed = tmp_path / "changed.py"
    changed.write_text(nb.read_text().replace("len(v) for k, v", "len(v) + 1 for k, v"))
    assert main(["study", "verify", str(study), str(changed)]) == 1
    err = capsys.readouterr().err
    assert "StudyMismatch: study 'three': result 'name_lengths' differs from the recording" in err

    copy = tmp_path / "tampered"
    shutil.copytree(study, copy)
    with sqlite3.connect(copy / manifest["answers"]) as con:
        key, value = con.execute("SELECT key, value FROM responses LIMIT 1").fetchone()
        edited = zlib.compress(zlib.decompress(value).replace(b'"name"', b'"nome"', 1))
        con.execute("UPDATE responses SET value = ? WHERE key = ?", (edited, key))
    assert main(["study", "verify", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "recorded answers do not match the manifest" in err and "changed after recording" in err
    # the installed command (a fresh process) says the same
    cmd = [sys.executable, "-m", "waltero_frames.cli", "study", "verify", str(copy)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and "do not match the manifest" in done.stderr


def test_a_failing_notebook_records_nothing_and_keeps_the_earlier_study(tenant, tmp_path, capsys):
    study = tmp_path / "s"
    with wf.Study(study, params={"n": 3}) as earlier:
        earlier.check("x", 1)
    old = (study / "manifest.json").read_bytes()
    files = sorted(p.name for p in study.iterdir())
    bad = notebook(tmp_path, "bad", last="raise RuntimeError('broken cell')")
    assert main(["study", "record", str(bad), str(study)]) == 1
    assert "RuntimeError: broken cell" in capsys.readouterr().err
    assert (study / "manifest.json").read_bytes() == old
    assert sorted(p.name for p in study.iterdir()) == files


def test_cli_errors_are_one_line_and_exit_codes(tmp_path, capsys):
    assert main(["study", "info", str(tmp_path / "none")]) == 1
    assert "no study at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["study", "frobnicate"])
    assert exc.value.code == 2
    plain = tmp_path / "plain.py"
    plain.write_text("# %%\nprint('no study here')\n")
    assert main(["study", "record", str(plain), str(tmp_path / "s")]) == 1
    assert "did not record into" in capsys.readouterr().err


def test_the_committed_demo_study_verifies_and_an_edited_copy_does_not(tmp_path, capsys):
    demo = ROOT / "data" / "studies" / "energy-report-demo"
    assert main(["study", "verify", str(demo)]) == 0
    assert "answers match the checksum" in capsys.readouterr().out
    copy = tmp_path / "edited"
    shutil.copytree(demo, copy)
    answers = copy / json.loads((demo / "manifest.json").read_text())["answers"]
    with sqlite3.connect(answers) as con:
        key, value = con.execute("SELECT key, value FROM responses ORDER BY key LIMIT 1").fetchone()
        edited = zlib.compress(zlib.decompress(value).replace(b"0", b"1", 1))
        con.execute("UPDATE responses SET value = ? WHERE key = ?", (edited, key))
    assert main(["study", "verify", str(copy)]) == 1
    assert "the recorded answers do not match the manifest" in capsys.readouterr().err
