"""JSON values as orjson decodes them (dicts, lists, str, int, float, bool, None): the one
deep copy every layer uses (the JSON patch functions here, the registry's codec above).
No I/O."""

from __future__ import annotations

from typing import Any

import orjson


def deep_copy(value: Any) -> Any:
    """A deep copy of a JSON value: an orjson round trip, several times faster than
    ``copy.deepcopy`` on API objects."""
    return orjson.loads(orjson.dumps(value))
