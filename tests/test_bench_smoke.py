"""CI smoke run of the benchmarks: they run at their quick sizes and write their JSON.

Timings are never asserted here (they belong to `make bench`); only that every benchmark
module runs and reports well-formed records.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"name", "ratio", "target", "met", "size"}


@pytest.mark.timeout(600)
def test_quick_benchmarks_run_and_write_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    latest = json.loads((tmp_path / "latest-quick.json").read_text())
    assert not (tmp_path / "latest.json").exists(), "a quick run must not replace latest.json"
    runs = list(tmp_path.glob("run-*.json"))
    assert len(runs) == 1
    doc = json.loads(runs[0].read_text())
    assert doc["quick"] is True and doc["failed"] == []
    assert latest == doc["results"]
    modules = {r["module"] for r in latest}
    expected = {p.stem for p in (ROOT / "bench").glob("bench_*.py")}
    assert modules == expected, f"benchmarks that reported nothing: {expected - modules}"
    for row in latest:
        assert row.keys() >= REQUIRED, row
        assert isinstance(row["met"], bool)
        assert row["target"].split(" ")[0] in {">=", "<=", ">", "<"}
        assert row["ratio"] == row["ratio"], f"{row['name']}: ratio is NaN"
        assert row["module_peak_rss_mb"] > 0 and row["module_seconds"] >= 0, row
    # every target of the client, helpers and mirror issues (and the scaling one) has a record
    assert doc["missing_targets"] == [], doc["missing_targets"]
    assert all(t["found"] for t in doc["issue_targets"])
    # The committed README table is not touched by a quick run.
    assert "results:begin" in (ROOT / "bench" / "README.md").read_text()
