"""The helpers on Dask frames: the in-memory functions, partition by partition.

A helper given a Dask DataFrame returns a lazy Dask DataFrame: one ``map_partitions``
that calls the very function it wraps on each partition (one code path, no second
implementation). That is exact because every helper works per device, and every
partition holds whole devices (``scan_readings`` makes them so;
``repartition_by_device`` makes any other frame so). A frame whose devices may be split
across partitions is checked (its ``device_id`` column per partition) and refused with
the fix named.

Adding a helper is one line in the list at the bottom (``name = partitionwise(func)``)
plus its export in ``waltero_frames/__init__.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

import pandas as pd

from ..analysis import anomalies as _anomalies
from ..analysis import consumption as _consumption
from ..analysis import kpis as _kpis
from ..analysis import resample as _resample
from ..analysis._frames import DEVICE

__all__ = [
    "anomaly_events",
    "flag_anomalies",
    "is_dask",
    "load_kpis",
    "mark_device_whole",
    "partitionwise",
    "readings_to_consumption",
    "repartition_by_device",
    "resample_consumption",
]

#: Expression names of Dask frames known to hold whole devices per partition (scan
#: results, repartition_by_device results, helper results on those).
_DEVICE_WHOLE: set[str] = set()


def is_dask(obj: Any) -> bool:
    """Tell whether ``obj`` is a Dask DataFrame (without importing Dask)."""
    return type(obj).__module__.startswith("dask.") and hasattr(obj, "map_partitions")


def mark_device_whole(ddf: Any) -> Any:
    """Record that ``ddf``'s partitions each hold whole devices; return it."""
    _DEVICE_WHOLE.add(ddf._name)
    return ddf


def _unique_ids(part: pd.DataFrame) -> list[str]:
    return [str(d) for d in pd.unique(part[DEVICE])]


def check_device_whole(ddf: Any, what: str) -> None:
    """Refuse a Dask frame whose devices are split across partitions (ValueError).

    Frames made by ``scan_readings``/``repartition_by_device`` (and the helpers on them)
    are known to be whole; any other frame is checked by computing its ``device_id``
    column's distinct values per partition (one pass over that column).
    """
    if DEVICE not in ddf.columns:
        raise ValueError(f"{what} needs a 'device_id' column; got columns {list(ddf.columns)}")
    if ddf._name in _DEVICE_WHOLE:
        return
    import dask

    parts = dask.compute(*[dask.delayed(_unique_ids)(p) for p in ddf[[DEVICE]].to_delayed()])
    seen: dict[str, int] = {}
    for k, ids in enumerate(parts):
        for d in ids:
            if d in seen:
                raise ValueError(
                    f"{what} is a Dask frame not partitioned by device: device {d!r} is in "
                    f"partitions {seen[d]} and {k}. Use "
                    "wf.repartition_by_device(frame) (or wf.scan_readings) so that each "
                    "partition holds whole devices"
                )
            seen[d] = k
    _DEVICE_WHOLE.add(ddf._name)


def _apply(
    part: pd.DataFrame, func: Callable, attrs: dict, args: tuple, kwargs: dict
) -> pd.DataFrame:
    """Run ``func`` on one partition, with the frame's ``attrs`` under the partition's."""
    zone = attrs.get("tz")
    if part.attrs.get("tz") not in (None, zone):
        raise ValueError(
            f"mixed time zones in one call: a partition has tz={part.attrs['tz']!r}, the "
            f"frame tz={zone!r}; scan one organization (one zone) at a time"
        )
    part = part.copy(deep=False)  # partitions may feed several tasks: leave theirs as is
    part.attrs = {**attrs, **part.attrs}
    return func(part, *args, **kwargs)


def partitionwise(func: Callable[..., pd.DataFrame]) -> Callable[..., Any]:
    """Make ``func`` (frame → frame, per device) accept a Dask DataFrame too.

    A pandas frame goes to ``func`` unchanged. A Dask frame must hold whole devices per
    partition; the result is ``frame.map_partitions(func)`` (lazy), with the frame's
    ``attrs`` given to every partition, and its meta is ``func`` on the empty meta.
    """

    @functools.wraps(func)
    def wrapper(frame: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_dask(frame):
            return func(frame, *args, **kwargs)
        check_device_whole(frame, func.__name__ + "'s input")
        meta = frame._meta
        attrs = dict(meta.attrs)
        out_meta = func(meta, *args, **kwargs)
        run = functools.partial(_apply, func=func, attrs=attrs, args=args, kwargs=kwargs)
        out = frame.map_partitions(run, meta=out_meta, enforce_metadata=False)
        return mark_device_whole(out)

    return wrapper


def _telemetry_order(part: pd.DataFrame) -> pd.DataFrame:
    """Sort one partition by time, ties by device_id (the telemetry layout's order)."""
    if len(part) < 2:
        return part
    ts = cast(pd.DatetimeIndex, part.index).as_unit("ns").asi8
    codes = pd.factorize(part[DEVICE], sort=True)[0]
    import numpy as np

    return part.iloc[np.lexsort((codes, ts))]


def repartition_by_device(frame: Any, npartitions: int | None = None) -> Any:
    """Shuffle a Dask frame so that each partition holds whole devices, time-sorted.

    The fix for a Dask frame the helpers refuse ("not partitioned by device"), e.g. one
    made with ``dd.from_pandas`` or ``dd.read_parquet`` of files cut by time.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        Telemetry (or a helper's output) with a ``device_id`` column, any partitioning.
    npartitions : int, optional
        Partitions of the result (default: as many as ``frame`` has).

    Returns
    -------
    dask.dataframe.DataFrame
        The same rows; every device's rows in one partition, each partition sorted by
        its index (time), ties by ``device_id``.

    Raises
    ------
    ValueError
        Not a Dask frame, no ``device_id`` column, or a bad ``npartitions``.

    Examples
    --------
    >>> ddf = dd.from_pandas(telemetry, npartitions=8)                   # doctest: +SKIP
    >>> wf.readings_to_consumption(wf.repartition_by_device(ddf))        # doctest: +SKIP
    """
    if not is_dask(frame):
        raise ValueError(
            f"repartition_by_device takes a Dask DataFrame, got {type(frame).__name__}"
        )
    if DEVICE not in frame.columns:
        raise ValueError(f"frame needs a 'device_id' column; got columns {list(frame.columns)}")
    n = frame.npartitions if npartitions is None else npartitions
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"npartitions={npartitions!r}: expected a positive whole number")
    attrs = dict(frame._meta.attrs)
    shuffled = frame.shuffle(on=DEVICE, npartitions=n)
    meta = frame._meta.copy()
    meta.attrs = attrs
    out = shuffled.map_partitions(_telemetry_order, meta=meta, enforce_metadata=False)
    return mark_device_whole(out)


# The helpers that accept Dask frames: one line each (and an export in __init__.py).
readings_to_consumption = partitionwise(_consumption.readings_to_consumption)
resample_consumption = partitionwise(_resample.resample_consumption)
flag_anomalies = partitionwise(_anomalies.flag_anomalies)
anomaly_events = partitionwise(_anomalies.anomaly_events)
load_kpis = partitionwise(_kpis.load_kpis)
