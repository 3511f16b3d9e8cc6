"""Series and frames that can live in ``DataFrame.attrs`` without breaking ``pd.concat``.

pandas compares the ``attrs`` of the frames it concatenates (``a.attrs == b.attrs``) to
decide whether the result keeps them. A plain Series or DataFrame inside ``attrs`` makes
that comparison raise "The truth value of a Series is ambiguous", so concatenating two
``daily_consumption`` frames would fail. The classes here compare to each other as a
whole (``equals``), so equal provenance is kept and differing provenance is dropped, the
way pandas treats scalar attrs; against anything else they behave like pandas objects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, overload

import numpy as np
import pandas as pd


class _WholeEquality:
    """``==``/``!=`` against another attrs object compare the whole object (a bool)."""

    def __eq__(self, other: Any) -> Any:
        if isinstance(other, _WholeEquality):
            return self.equals(other)  # type: ignore[attr-defined]  # pandas' equals
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:
        if isinstance(other, _WholeEquality):
            return not self.equals(other)  # type: ignore[attr-defined]
        return super().__ne__(other)


class AttrSeries(_WholeEquality, pd.Series):
    """A Series for ``attrs``: ``==`` against another ``AttrSeries``/``AttrFrame`` is a bool."""

    @property
    def _constructor(self) -> type[AttrSeries]:
        return AttrSeries

    @property
    def _constructor_expanddim(self) -> type[AttrFrame]:
        return AttrFrame


class AttrFrame(_WholeEquality, pd.DataFrame):
    """A DataFrame for ``attrs``: ``==`` against another ``AttrFrame`` is a bool."""

    @property
    def _constructor(self) -> type[AttrFrame]:
        return AttrFrame

    @property
    def _constructor_sliced(self) -> type[AttrSeries]:
        return AttrSeries


@overload
def for_attrs(obj: pd.DataFrame) -> AttrFrame: ...
@overload
def for_attrs(obj: pd.Series) -> AttrSeries: ...
def for_attrs(obj: pd.Series | pd.DataFrame) -> AttrSeries | AttrFrame:
    """``obj`` as an attrs-safe Series/DataFrame (same data, index and name)."""
    if isinstance(obj, pd.DataFrame):
        return AttrFrame(obj)
    return AttrSeries(obj)


def jsonable(value: Any) -> Any:
    """``value`` with pandas/numpy objects turned into JSON types (for parquet metadata).

    Timestamps become ISO-8601 strings, Series dicts, DataFrames lists of records,
    numpy scalars Python numbers; dicts, lists and tuples are converted recursively.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return jsonable(value.reset_index().to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return jsonable(value.to_dict())
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def to_parquet(frame: pd.DataFrame, path: Any, **kwargs: Any) -> None:
    """Write ``frame`` to Parquet with its provenance (``attrs``) kept as JSON.

    pandas stores ``DataFrame.attrs`` in the Parquet metadata with a plain
    ``json.dumps``, so ``frame.to_parquet(...)`` raises ``TypeError: Object of type
    Timestamp is not JSON serializable`` for the toolkit's frames (their attrs carry
    timestamps, and series such as ``missing_periods``). This writes the same data with
    the attrs converted by :func:`jsonable`; ``pd.read_parquet`` gives them back as JSON
    values (ISO strings, dicts).

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame returned by the toolkit (or any other frame).
    path : str or path-like or file-like
        Where to write, as for :meth:`pandas.DataFrame.to_parquet`.
    **kwargs
        Passed on to :meth:`pandas.DataFrame.to_parquet` (needs the ``parquet`` extra).

    Examples
    --------
    >>> daily = wf.daily_consumption(client, org, "2026-05-18", "2026-05-25")  # doctest: +SKIP
    >>> wf.to_parquet(daily, "daily.parquet")                                  # doctest: +SKIP
    >>> pd.read_parquet("daily.parquet").attrs["start"]                        # doctest: +SKIP
    '2026-05-18T00:00:00+00:00'
    """
    out = frame.copy(deep=False)
    out.attrs = jsonable(dict(frame.attrs))
    out.to_parquet(path, **kwargs)
