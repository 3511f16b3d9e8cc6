"""Device selections: the one rule for which devices a call means.

Lowest layer (beside ``timeargs``): imports only numpy and pandas, so the fetch functions,
the mirror and the plots all read a ``devices=`` argument the same way. A selection is

- one device id (``str``);
- ids in a list, tuple, set, ``numpy`` array, ``pandas.Index`` or ``pandas.Series``
  (its values);
- a ``wf.devices`` frame (its index, named ``device_id``);
- any other frame with a ``device_id`` column (``reset_index()`` of a devices frame, a
  ``daily_consumption``, ``fields`` or ``telemetry`` frame): that column's ids.

Ids come back once each, in first-seen order.

>>> import pandas as pd
>>> device_ids(pd.DataFrame({"device_id": ["b", "a", "b"], "consumption": [1.0, 2.0, 3.0]}))
['b', 'a']
>>> device_ids(["11111111-1111-1111-1111-111111111101"], uuid=True)
['11111111-1111-1111-1111-111111111101']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from .columns import DEFAULT_FIELDS

__all__ = ["DeviceSelection", "check_id", "device_ids", "field_names"]

#: What a ``devices=`` argument may be (see the module docstring).
DeviceSelection: TypeAlias = (
    "str | Sequence[str] | set[str] | frozenset[str] | np.ndarray | pd.Index | pd.Series"
    " | pd.DataFrame"
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_id(value: Any, name: str = "id") -> str:
    """Return ``value`` if it is a UUID-shaped string, else raise ``ValueError`` naming it.

    Examples
    --------
    >>> check_id("not-a-uuid", "org")
    Traceback (most recent call last):
    ...
    ValueError: org='not-a-uuid' is not a UUID (expected 8-4-4-4-12 hex digits)
    """
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError(f"{name}={value!r} is not a UUID (expected 8-4-4-4-12 hex digits)")
    return value


def device_ids(devices: DeviceSelection, *, uuid: bool = False) -> list[str]:
    """Return the device ids a selection means, once each, in first-seen order.

    Parameters
    ----------
    devices : str, sequence of str, array, Index, Series or DataFrame
        See the module docstring. A frame whose index is named ``device_id`` gives its
        index; any other frame with a ``device_id`` column gives that column.
    uuid : bool, default False
        Require UUID-shaped ids (``ValueError`` naming the first other one), as the API
        calls do; otherwise ids are taken as text (a store may hold other keys).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        ``devices`` is none of the above (e.g. a number, a dict, a 2-d array), or an id is
        not a UUID when ``uuid=True``.

    Examples
    --------
    >>> device_ids("a")
    ['a']
    >>> device_ids(pd.Series(["a", "b", "a"]))
    ['a', 'b']
    """
    raw: Iterable[Any]
    if isinstance(devices, pd.DataFrame):
        by_column = devices.index.name != "device_id" and "device_id" in devices.columns
        raw = devices["device_id"].unique() if by_column else devices.index
    elif isinstance(devices, str):
        raw = [devices]
    elif isinstance(devices, np.ndarray) and devices.ndim == 1:
        raw = devices.tolist()
    elif isinstance(devices, pd.Series | pd.Index | Sequence | set | frozenset):
        raw = list(devices)
    else:
        raise ValueError(
            f"devices={devices!r}: expected a device id, a list of ids, a wf.devices frame "
            "or a frame with a device_id column"
        )
    ids = [check_id(d, "device") for d in raw] if uuid else [str(d) for d in raw]
    return list(dict.fromkeys(ids))


def field_names(fields: str | Sequence[str] | None) -> list[str]:
    """Return the field names a ``fields=`` argument means, once each, in order.

    Parameters
    ----------
    fields : str, sequence of str or None
        One field name or several; ``None`` means ``wf.telemetry``'s default fields
        (``columns.DEFAULT_FIELDS``).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        An empty list, or a name that is not a field name (empty, with a comma, a space
        or an unprintable character).

    Examples
    --------
    >>> field_names("battery.voltage")
    ['battery.voltage']
    """
    if fields is None:
        return list(DEFAULT_FIELDS)
    if isinstance(fields, str):
        fields = [fields]
    fields = list(fields)
    if not fields:
        raise ValueError("fields=[]: ask for at least one field (or None for the default)")
    for f in fields:
        if not isinstance(f, str) or not f or "," in f or not f.isprintable() or " " in f:
            raise ValueError(f"field {f!r} is not a field name such as 'meter.value.raw'")
    return list(dict.fromkeys(fields))
