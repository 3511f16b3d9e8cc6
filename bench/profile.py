"""Profile the slowest step of a benchmark with pyinstrument.

``python -m bench.profile NAME [--quick]`` builds the step's input (not profiled), runs the
step once under pyinstrument (sampling every millisecond) and prints

- the call tree (pyinstrument's text renderer, library internals collapsed), and
- the top frames: functions by *self* time (where the CPU goes) and functions of
  ``waltero_frames`` by *inclusive* time, each with its share of the step.

Both are saved to ``bench/results/profiles/NAME.txt`` (``--out`` to change the folder).
``python -m bench.profile --list`` names the steps; ``all`` profiles every one. Steps that
use a thread pool (the client's fetch) are profiled with ``max_workers=1`` so the work
runs on the profiled thread: same code per request, no overlap.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "profiles"
TZ = "Europe/Berlin"

Step = Callable[[], Any]


# ---------------------------------------------------------------- the steps (setup → step)
def world_generate(quick: bool) -> Step:
    from waltero_frames.sim.world import model as world_module

    return lambda: world_module._generate.__wrapped__(0)


def sim_telemetry_body(quick: bool) -> Step:
    import pandas as pd

    from waltero_frames.sim.app.app import create_app
    from waltero_frames.sim.world.model import World

    _, state = create_app(World.for_seed(0))
    device = "11111111-1111-1111-1111-111111111101"
    fields = ["meter.value.processed", "meter.value.raw", "battery.voltage", "connection.rssi"]
    lo = pd.Timestamp("2026-05-01T00:00Z").value // 10**6
    hi = pd.Timestamp("2026-06-01T00:00Z").value // 10**6
    n = 5 if quick else 50

    def step():
        for _ in range(n):
            state.telemetry_body(device, fields, lo, hi)

    return step


def _bodies(quick: bool):
    from bench.bench_scaling import telemetry_bodies

    return telemetry_bodies(16, 60) if quick else telemetry_bodies(69, 360)


def client_parse(quick: bool) -> Step:
    from bench.bench_scaling import parse

    bodies, mult = _bodies(quick)
    return lambda: parse(bodies, mult)


def client_replay(quick: bool) -> Step:
    """The offline replay of bench_client's fetch (warm cache, zero requests)."""
    import tempfile

    import pandas as pd

    import waltero_frames as wf
    from bench.bench_client import ours_fetch

    org = wf.sim.DEMO_ORG
    start = pd.Timestamp("2026-05-01", tz="UTC")
    end = start + pd.DateOffset(months=1 if quick else 3)
    n_dev = 16 if quick else 48
    tmp = tempfile.mkdtemp(prefix="bench-profile-")
    cache = Path(tmp) / "study.sqlite"
    with wf.sim.running(rate=None, login_limit=None) as sim:
        with wf.Client(sim.base_url, sim.username, sim.password, cache=cache, progress=False) as c:
            ours_fetch(c, org, start, end, n_dev)
        base = sim.base_url

    def step():
        with wf.Client(base, cache=cache, offline=True, progress=False, max_workers=1) as c:
            return ours_fetch(c, org, start, end, n_dev)

    return step


def _readings(quick: bool):
    from bench.bench_analysis import make_readings

    return make_readings(100 if quick else 1000)


def analysis_consumption_resample(quick: bool) -> Step:
    from bench.bench_scaling import consumption_resample

    frame, devices = _readings(quick)
    return lambda: consumption_resample(frame, devices)


def analysis_flags(quick: bool) -> Step:
    from bench.bench_scaling import flags

    frame, devices = _readings(quick)
    return lambda: flags(frame, devices)


def mirror_apply_changes(quick: bool) -> Step:
    """bench_mirror's apply step (pages of 200) on a smaller mirror: 2 M readings."""
    import tempfile

    from bench.bench_mirror import apply_in_pages, build_mirror, make_changes

    n_devices, n_ts, n_changes = (10, 5_000, 5_000) if quick else (100, 10_000, 20_000)
    tmp = tempfile.mkdtemp(prefix="bench-profile-")
    store, org, _ = build_mirror(Path(tmp) / "m.sqlite", n_devices, n_ts)
    changes = make_changes(n_changes, n_devices, n_ts)
    return lambda: apply_in_pages(store, org, changes)


def plots_carpet(quick: bool) -> Step:
    from bench.bench_plots import make_frame
    from waltero_frames import plots

    frame = make_frame(50 if quick else 1000)
    return lambda: plots.carpet_matrix(frame, tz=TZ)


STEPS: dict[str, tuple[str, Callable[[bool], Step]]] = {
    "world_generate": ("bench_world: generating seed 0 (World)", world_generate),
    "sim_telemetry_body": (
        "bench_sim: building 31-day telemetry bodies (x50, in-process)",
        sim_telemetry_body,
    ),
    "client_parse": ("bench_client/bench_scaling: JSON bytes -> telemetry frame", client_parse),
    "client_replay": ("bench_client: offline replay from the warm cache", client_replay),
    "analysis_consumption_resample": (
        "bench_analysis: readings_to_consumption + resample_consumption('D', Berlin)",
        analysis_consumption_resample,
    ),
    "analysis_flags": ("bench_analysis: flag_anomalies", analysis_flags),
    "mirror_apply_changes": (
        "bench_mirror: applying changes in pages of 200",
        mirror_apply_changes,
    ),
    "plots_carpet": ("bench_plots: carpet_matrix", plots_carpet),
}


# ---------------------------------------------------------------- summary of a profile
def top_frames(root: Any, n: int = 12) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(functions by self time, waltero_frames functions by inclusive time), as shares."""
    total = root.time or 1e-12
    self_t: dict[str, float] = defaultdict(float)
    incl: dict[str, float] = defaultdict(float)

    def label(f: Any) -> str:
        path = f.file_path_short or ""
        return f"{f.function} ({path}:{f.line_no})"

    def walk(f: Any, seen: frozenset, parent: str) -> None:
        # pyinstrument's synthetic "[self]" leaves carry their parent's own time
        key = parent if f.is_synthetic else label(f)
        self_t[key] += f.time - sum(c.time for c in f.children)
        if not f.is_synthetic and "waltero_frames" in (f.file_path or "") and key not in seen:
            incl[key] += f.time  # once per stack (no double count through recursion)
            seen = seen | {key}
        for c in f.children:
            walk(c, seen, key)

    walk(root, frozenset(), "<root>")
    by_self = sorted(((k, v / total) for k, v in self_t.items()), key=lambda kv: -kv[1])
    by_incl = sorted(((k, v / total) for k, v in incl.items()), key=lambda kv: -kv[1])
    return by_self[:n], by_incl[:n]


def profile(name: str, quick: bool, out: Path, interval: float = 0.001) -> str:
    from pyinstrument import Profiler

    what, setup = STEPS[name]
    step = setup(quick)
    profiler = Profiler(interval=interval)
    profiler.start()
    step()
    profiler.stop()
    session = profiler.last_session
    root = session.root_frame()
    by_self, by_incl = top_frames(root)
    lines = [
        f"# {name}: {what}{' (quick size)' if quick else ''}",
        f"# duration {session.duration:.3f} s, {session.sample_count} samples",
        "",
        "top functions by self time (share of the step):",
        *(f"  {share:6.1%}  {label}" for label, share in by_self),
        "",
        "waltero_frames functions by inclusive time:",
        *(f"  {share:6.1%}  {label}" for label, share in by_incl),
        "",
        profiler.output_text(unicode=False, color=False, show_all=False),
    ]
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.txt").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="steps to profile (or 'all')")
    ap.add_argument("--list", action="store_true", help="name the steps")
    ap.add_argument("--quick", action="store_true", help="small inputs")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for NAME.txt")
    ap.add_argument("--interval", type=float, default=0.001, help="sampling interval (s)")
    args = ap.parse_args(argv)
    if args.list or not args.names:
        for name, (what, _) in STEPS.items():
            print(f"{name:32s} {what}")
        return 0
    names = list(STEPS) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        ap.error(f"unknown step(s) {unknown}; see --list")
    for name in names:
        print(profile(name, args.quick, args.out, args.interval), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
