"""Series and frames that can live in ``DataFrame.attrs`` without breaking ``pd.concat``.

pandas compares the ``attrs`` of the frames it concatenates (``a.attrs == b.attrs``) to
decide whether the result keeps them. A plain Series or DataFrame inside ``attrs`` makes
that comparison raise "The truth value of a Series is ambiguous", so concatenating two
``daily_consumption`` frames would fail. The classes here compare to each other as a
whole (``equals``), so equal provenance is kept and differing provenance is dropped, the
way pandas treats scalar attrs; against anything else they behave like pandas objects.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


class AttrSeries(pd.Series):
    """A Series for ``attrs``: ``==`` against another ``AttrSeries``/``AttrFrame`` is a bool."""

    @property
    def _constructor(self) -> type[AttrSeries]:
        return AttrSeries

    @property
    def _constructor_expanddim(self) -> type[AttrFrame]:
        return AttrFrame

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if isinstance(other, AttrSeries | AttrFrame):
            return self.equals(other)
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if isinstance(other, AttrSeries | AttrFrame):
            return not self.equals(other)
        return super().__ne__(other)

    __hash__ = pd.Series.__hash__


class AttrFrame(pd.DataFrame):
    """A DataFrame for ``attrs``: ``==`` against another ``AttrFrame`` is a bool."""

    @property
    def _constructor(self) -> type[AttrFrame]:
        return AttrFrame

    @property
    def _constructor_sliced(self) -> type[AttrSeries]:
        return AttrSeries

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if isinstance(other, AttrSeries | AttrFrame):
            return self.equals(other)
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if isinstance(other, AttrSeries | AttrFrame):
            return not self.equals(other)
        return super().__ne__(other)

    __hash__ = pd.DataFrame.__hash__


def for_attrs(obj: pd.Series | pd.DataFrame) -> AttrSeries | AttrFrame:
    """``obj`` as an attrs-safe Series/DataFrame (same data, index and name)."""
    if isinstance(obj, pd.DataFrame):
        return AttrFrame(obj)
    return AttrSeries(obj)
