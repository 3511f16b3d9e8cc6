"""Repository job (not part of the library): the main job: run every notebook against a Waltero API and write HTML reports.

``python -m tools.report`` (what ``make report`` runs):

1. uses the tenant in ``WALTERO_BASE_URL`` / ``WALTERO_USERNAME`` / ``WALTERO_PASSWORD``
   when all three are set, otherwise starts the bundled simulator on a loopback port and
   hands its address to the notebooks through those variables;
2. executes ``notebooks/[0-9]*.py`` (jupytext percent files, the source of truth) in a
   fresh kernel each, from the notebooks folder, with papermill (parameters cell);
3. writes ``reports/<name>.html`` (nbconvert), ``reports/<name>.ipynb`` (with outputs),
   ``reports/<name>.xlsx`` (a report notebook's tables, ``wf.to_excel``) and
   ``reports/index.html``; copies the PNG output of the cell tagged ``readme-image`` to
   ``docs/img/readme.png``;
4. prints where the reports are and exits non-zero if any cell failed.

Report notebooks (``waltero: report: true`` in their metadata) are studies
(``wf.Study``): with the bundled simulator they replay their committed study in
``data/studies/``, and ``--refresh-data`` records it again (``study_mode="record"``);
against a configured tenant they record a study of it under ``reports/studies/``. Their
HTML is written for readers: key figures first, no code, the study's footer last.

The notebooks call :func:`connect` for their client, so they also run on their own
(``jupyter lab``, ``pytest tests/test_notebooks.py``) with or without the variables.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import html
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from waltero_frames.notebook.connect import ENV_VARS, tenant_configured
from waltero_frames.study.execute import execute

README_TAG = "readme-image"
SUMMARY_TAG, FOOTER_TAG = "summary", "footer"
# The project folder: where `make report` runs (notebooks/, data/, docs/, reports/);
# this file's repository otherwise.
ROOT = Path.cwd() if (Path.cwd() / "notebooks").is_dir() else Path(__file__).resolve().parents[1]


def notebook_paths(folder: Path, only: Sequence[str] = ()) -> list[Path]:
    """The numbered notebooks in ``folder`` (``01-…py``), optionally those matching ``only``."""
    paths = sorted(p for p in folder.glob("[0-9]*.py"))
    if only:
        paths = [p for p in paths if any(o in p.stem for o in only)]
        if not paths:
            raise ValueError(f"no notebook in {folder} matches {list(only)}")
    return paths


def is_report(nb: Any) -> bool:
    """Tell whether a notebook is a report for readers (``waltero: report: true`` metadata)."""
    return bool(nb.metadata.get("waltero", {}).get("report"))


def _tagged(cell: Any, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def reader_view(nb: Any) -> Any:
    """Return a copy of a report notebook arranged for readers (the .ipynb keeps its order).

    The cells tagged ``summary`` move up, right after the title cell, so the page opens
    with the key figures; the cell tagged ``footer`` (the study's line: name, when it was
    recorded, package versions) goes last. Code is hidden at export.
    """
    nb = copy.deepcopy(nb)
    cells = list(nb.cells)
    summary = [c for c in cells if _tagged(c, SUMMARY_TAG)]
    footer = [c for c in cells if _tagged(c, FOOTER_TAG)]
    rest = [c for c in cells if c not in summary and c not in footer]
    title = rest[:1] if rest and rest[0].cell_type == "markdown" else []
    nb.cells = title + summary + rest[len(title) :] + footer
    return nb


def export_html(nb: Any, target: Path) -> Path:
    """Write ``nb`` as a standalone HTML page (nbconvert, images embedded).

    A report notebook (:func:`is_report`) is written for readers: :func:`reader_view`,
    no code cells, no prompts.
    """
    from nbconvert import HTMLExporter

    if is_report(nb):
        exporter = HTMLExporter(
            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
        )
        body, _ = exporter.from_notebook_node(reader_view(nb))
    else:
        body, _ = HTMLExporter().from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")
    return target


def tagged_png(nb: Any, tag: str = README_TAG) -> bytes | None:
    """The last PNG output of the first cell tagged ``tag``, or None."""
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            for output in reversed(cell.get("outputs", [])):
                data = output.get("data", {})
                if "image/png" in data:
                    return base64.b64decode(data["image/png"])
    return None


def study_parameters(path: Path, out: Path, *, tenant: bool, refresh: bool) -> dict[str, Any]:
    """Return the parameters a report notebook runs with (others get none).

    With the bundled simulator a report replays its committed study (its defaults), or
    records it again with ``refresh``. Against a configured tenant it records a study of
    that tenant under ``out/studies/`` instead of replaying the simulator's. Every report
    writes its tables to ``out/<name>.xlsx`` (its ``workbook`` parameter).
    """
    import jupytext

    if not is_report(jupytext.read(path)):
        return {}
    params: dict[str, Any] = {"workbook": str((out / f"{path.stem}.xlsx").resolve())}
    if tenant:
        params["study_path"] = str((out / "studies" / path.stem).resolve())
        params["study_mode"] = "record"
    elif refresh:
        params["study_mode"] = "record"
    return params


@contextlib.contextmanager
def api_environment(seed: int = 0) -> Iterator[str]:
    """``WALTERO_*`` set for the kernels: the configured tenant or a bundled simulator."""
    if tenant_configured():
        yield f"tenant {os.environ['WALTERO_BASE_URL']} (from WALTERO_* settings)"
        return
    from waltero_frames import sim as sim_module

    saved = {k: os.environ.get(k) for k in ENV_VARS}
    with sim_module.running(seed=seed) as sim:
        os.environ.update(
            WALTERO_BASE_URL=sim.base_url,
            WALTERO_USERNAME=sim.username,
            WALTERO_PASSWORD=sim.password,
        )
        try:
            yield f"bundled simulator at {sim.base_url} (seed {seed})"
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _index_page(rows: list[tuple[str, str, str]]) -> str:
    items = "\n".join(
        f"<li><a href='{html.escape(f)}'>{html.escape(f)}</a> — {html.escape(s)}</li>"
        for f, s, _ in rows
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>waltero_frames reports</title>"
        f"<h1>waltero_frames reports</h1><ul>\n{items}\n</ul>"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    parser.add_argument("--image", type=Path, default=ROOT / "docs" / "img" / "readme.png")
    parser.add_argument("--only", nargs="*", default=(), help="run notebooks whose name has …")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    parser.add_argument(
        "--refresh-data",
        action="store_true",
        help="re-record the report notebooks' studies in data/studies/",
    )
    args = parser.parse_args(argv)

    import nbformat

    paths = notebook_paths(args.notebooks, args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    rows: list[tuple[str, str, str]] = []
    tenant = tenant_configured()  # a real tenant: its reports record their own studies
    with api_environment() as where:
        print(f"running {len(paths)} notebooks against the {where}", flush=True)
        for path in paths:
            t0 = time.perf_counter()
            params = study_parameters(path, args.out, tenant=tenant, refresh=args.refresh_data)
            nb, error = execute(path, parameters=params, timeout=args.timeout)
            took = time.perf_counter() - t0
            target = export_html(nb, args.out / f"{path.stem}.html")
            nbformat.write(nb, args.out / f"{path.stem}.ipynb")
            status = "ok" if error is None else "FAILED"
            rows.append((target.name, f"{status} in {took:.1f} s", path.stem))
            print(f"  {status:6} {path.name:32} {took:6.1f} s  -> {target}", flush=True)
            if error is not None:
                failed.append(path.name)
                print(f"         {str(error).strip().splitlines()[-1][:300]}", flush=True)
            png = tagged_png(nb)
            if png is not None and error is None:
                args.image.parent.mkdir(parents=True, exist_ok=True)
                args.image.write_bytes(png)
                print(f"         README image -> {args.image}", flush=True)
    index = args.out / "index.html"
    ran = {name for name, _, _ in rows}
    earlier = [
        (p.name, "from an earlier run", p.stem)
        for p in sorted(args.out.glob("*.html"))
        if p.name not in ran and p.name != index.name
    ]
    index.write_text(_index_page(sorted(rows + earlier)), encoding="utf-8")
    print(f"\nreports: {index}")
    if failed:
        print(f"FAILED notebooks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
