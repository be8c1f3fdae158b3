"""Turn the frozen result dataclasses of ``locmap.network`` into JSON-ready values.

One recursive converter so every result serialises the same way: dataclasses become dicts
(field order kept), tuples and frozensets become lists, dates ISO strings, mapping keys
strings (JSON object keys must be), and floats that are not finite become None.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as nested dicts, lists, str, int, float, bool and None.

    Examples
    --------
    >>> import datetime as dt
    >>> to_jsonable({1: (dt.date(2024, 5, 1), float("nan"))})
    {'1': ['2024-05-01', None]}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
