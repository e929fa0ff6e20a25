"""Resource quantities (``250m``, ``64Mi``, ``1e3``) as exact fractions, and the value of a
downward-API ``resourceFieldRef`` as the kubelet computes it (``ExtractContainerResourceValue``:
the request or limit divided by ``divisor``, rounded up; an unset limit is the node's
allocatable). Pure; used by :mod:`.volumes` and :mod:`kubesvc.runtime.envvars`.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from typing import Any

_SUFFIX = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_Q = re.compile(r"^([+-]?[0-9.]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?))$")


def parse_quantity(text: str) -> Fraction:
    """Raises ValueError for what is not a quantity."""
    m = _Q.match(str(text).strip())
    if not m:
        raise ValueError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}")
    num = Fraction(m.group(1))
    if m.group(2) is not None:
        return num * Fraction(10) ** int(m.group(2))
    return num * _SUFFIX[m.group(3) or ""]


def node_allocatable(name: str) -> Fraction:
    if name == "cpu":
        return Fraction(os.cpu_count() or 1)
    if name == "memory":
        try:
            return Fraction(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError):
            return Fraction(0)
    if name == "ephemeral-storage":
        try:
            st = os.statvfs("/")
            return Fraction(st.f_blocks * st.f_frsize)
        except OSError:
            return Fraction(0)
    return Fraction(0)


def resource_value(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """``resourceFieldRef`` (``limits.cpu``, ``requests.memory``, ...) of ``container``."""
    res = str(ref.get("resource") or "")
    kind, _, name = res.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name)  # a request defaults to the limit
    value = parse_quantity(str(raw)) if raw is not None else (
        node_allocatable(name) if kind == "limits" else Fraction(0))
    divisor = parse_quantity(str(ref.get("divisor") or "1")) or Fraction(1)
    return str(math.ceil(value / divisor))
