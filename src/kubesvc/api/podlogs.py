"""``PodLogOptions``: the query of ``GET pods/{name}/log`` (``container``, ``follow``,
``previous``, ``tailLines``, ``sinceSeconds``, ``sinceTime``, ``timestamps``,
``limitBytes``), parsed and validated as upstream's ``ValidatePodLogOptions`` (422
``PodLogOptions "NAME" is invalid: ...``), and written back as the kubelet's
``/containerLogs`` query. Pure; used by the API server's log handler, the node agent's
streaming server and the log readers (:mod:`kubesvc.runtime.logs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kubesvc import errors
from kubesvc.api.timefmt import parse_time

_INT64 = (-(2**63), 2**63 - 1)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


def _int(q: Mapping[str, str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not (digits.isascii() and digits.isdigit()):
        raise errors.BadRequest(
            f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": invalid syntax')
    if len(digits.lstrip("0")) > 19 or not _INT64[0] <= int(raw) <= _INT64[1]:
        raise errors.BadRequest(
            f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": value out of range')
    return int(raw)


def format_timestamp(ns: int) -> str:
    """The kubelet's log timestamp (``RFC3339NanoFixed``: always nine fraction digits)."""
    secs, frac = divmod(ns, 10**9)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


@dataclass(frozen=True, slots=True)
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: float | None = None  # unix seconds
    timestamps: bool = False
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, q: Mapping[str, str], *, name: str = "") -> LogOptions:
        """Raises BadRequest for an unparseable value, Invalid as upstream's validation."""
        since_time: float | None = None
        raw_time = q.get("sinceTime")
        if raw_time:
            t = parse_time(raw_time)
            if t is None:
                raise errors.BadRequest(
                    f'parsing time "{raw_time}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                    f'"{raw_time}" as "2006"')
            since_time = t.timestamp()
        opts = cls(
            container=q.get("container", ""), follow=_truthy(q.get("follow")),
            previous=_truthy(q.get("previous")), tail_lines=_int(q, "tailLines"),
            since_seconds=_int(q, "sinceSeconds"), since_time=since_time,
            timestamps=_truthy(q.get("timestamps")), limit_bytes=_int(q, "limitBytes"))
        opts.validate(name)
        return opts

    def validate(self, name: str) -> None:
        found: list[tuple[str, str]] = []
        if self.tail_lines is not None and self.tail_lines < 0:
            found.append(("tailLines", f"Invalid value: {self.tail_lines}: must be greater "
                                       "than or equal to 0"))
        if self.limit_bytes is not None and self.limit_bytes < 1:
            found.append(("limitBytes",
                          f"Invalid value: {self.limit_bytes}: must be greater than 0"))
        if self.since_seconds is not None and self.since_time is not None:
            found.append(("", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may "
                              "be specified"))
        elif self.since_seconds is not None and self.since_seconds < 1:
            found.append(("sinceSeconds",
                          f"Invalid value: {self.since_seconds}: must be greater than 0"))
        if not found:
            return
        parts = [f"{f}: {d}" if f else d for f, d in found]
        detail = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        causes = [errors.Cause("FieldValueInvalid", d, f) for f, d in found]
        raise errors.Invalid(message=f'PodLogOptions "{name}" is invalid: {detail}',
                             kind="PodLogOptions", name=name, causes=causes)

    def since(self, now: float) -> float | None:
        """The earliest arrival time (unix seconds) a line may have, or None."""
        if self.since_time is not None:
            return self.since_time
        if self.since_seconds is not None:
            return now - self.since_seconds
        return None

    def query(self) -> dict[str, str]:
        """As the kubelet's ``/containerLogs`` query (what the API server sends on)."""
        out: dict[str, str] = {}
        if self.follow:
            out["follow"] = "true"
        if self.previous:
            out["previous"] = "true"
        if self.timestamps:
            out["timestamps"] = "true"
        for key, value in (("tailLines", self.tail_lines), ("sinceSeconds", self.since_seconds),
                           ("limitBytes", self.limit_bytes)):
            if value is not None:
                out[key] = str(value)
        if self.since_time is not None:
            ns = int(self.since_time * 10**9)
            out["sinceTime"] = format_timestamp(ns)
        return out
