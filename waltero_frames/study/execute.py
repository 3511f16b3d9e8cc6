"""Run a notebook (jupytext ``.py`` or ``.ipynb``) headless with papermill parameters.

Used by ``waltero-frames study record|verify`` and by the repository's report job. Needs
the ``notebooks`` extra (papermill, jupytext, nbformat, ipykernel).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["KERNEL", "execute", "without_env"]

KERNEL = "python3"


def execute(
    path: str | os.PathLike[str],
    *,
    parameters: dict[str, Any] | None = None,
    timeout: float = 600,
) -> tuple[Any, BaseException | None]:
    """Execute one notebook in a fresh kernel from its own folder.

    Parameters
    ----------
    path : str or Path
        A jupytext percent ``.py`` file or an ``.ipynb``.
    parameters : dict, optional
        Injected after the cell tagged ``parameters`` (papermill).
    timeout : float, default 600
        Seconds per cell.

    Returns
    -------
    (NotebookNode, error)
        The executed notebook (outputs included, also up to a failing cell) and the
        papermill error, or None when every cell ran.
    """
    import jupytext
    import nbformat
    import papermill

    path = Path(path)
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    error: BaseException | None = None
    with tempfile.TemporaryDirectory(prefix="waltero-nb-") as tmpdir:
        out = Path(tmpdir) / f"{path.stem}.ipynb"  # papermill writes its result to a file
        try:
            papermill.execute_notebook(
                nb,
                str(out),
                parameters=parameters or {},
                kernel_name=KERNEL,
                cwd=str(path.resolve().parent),
                progress_bar=False,
                execution_timeout=timeout,
                # a cell past its timeout is interrupted: its traceback shows where it hung
                interrupt_on_timeout=True,
                # ipykernel warns on every start that loopback ZMQ is unencrypted: noise here
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except papermill.PapermillExecutionError as exc:
            error = exc
        executed = nbformat.read(out, as_version=4) if out.exists() else nb
    return executed, error


@contextlib.contextmanager
def without_env(names: Sequence[str]) -> Iterator[None]:
    """Remove environment variables for the duration (kernels inherit the environment)."""
    saved = {k: os.environ.pop(k) for k in names if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
