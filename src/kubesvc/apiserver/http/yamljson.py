"""YAML request bodies to JSON values, with upstream's limits and conversions.

Upstream converts a YAML body to JSON (``sigs.k8s.io/yaml.YAMLToJSON`` over go-yaml) before
decoding it. This module does the same over PyYAML's event stream, without recursion and
without sharing nodes between aliases:

- the node tree is composed from events with an explicit stack, so nesting deeper than
  :data:`MAX_DEPTH` is refused before it costs memory (and no C or Python stack grows);
- aliases are expanded as go-yaml expands them, counting every decoded node; a document in
  which expanded aliases make up more than go-yaml's allowed ratio fails with go-yaml's
  ``yaml: document contains excessive aliasing`` (a 344-byte "billion laughs" document is
  refused after a few thousand nodes instead of growing to gigabytes);
- map keys that are ints, floats or booleans become strings as ``YAMLToJSON`` makes them;
  other keys (null, sequences, maps) are an error; timestamps stay strings; ``!!binary``
  becomes the decoded text; NaN and infinities are refused as Go's ``json.Marshal`` refuses
  them; integers beyond 64 bits become floats (go-yaml resolves them as floats);
- YAML-only collection tags (``!!set``, ``!!omap``, ``!!pairs``, language tags) are refused.

Errors are :class:`YAMLToJSONError` with go-yaml's wording; :mod:`.negotiation` wraps them
as ``error converting YAML to JSON: ...``. Calls PyYAML only.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import yaml

from kubesvc.api.typecheck import MAX_DEPTH

_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1

# go-yaml v2's alias-ratio bounds (decode.go): up to 99% of decodes may come from alias
# expansion for documents up to 400,000 decodes, scaling down to 10% at 4,000,000.
_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000

_Y = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    _Y + t for t in ("null", "bool", "int", "float", "str", "binary", "timestamp", "merge",
                     "value")
)

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe YAML without implicit timestamps: like upstream's YAML-to-JSON conversion,
    an unquoted ``2024-01-01T00:00:00Z`` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _Y + "timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class YAMLToJSONError(ValueError):
    """A YAML body that has no JSON form (message in go-yaml's ``yaml: ...`` words)."""


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _RATIO_LOW:
        return 0.99
    if decodes >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


class _Alias:
    """A reference to an anchored node, expanded (and counted) at each use."""

    __slots__ = ("node",)

    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def load(body: bytes | str, duplicates: list[str] | None = None) -> Any:
    """The JSON value of the first YAML document in ``body`` (None when empty). A key
    repeated in one mapping keeps its last value, as go-yaml's lenient decoding does; each
    repeat is appended to ``duplicates`` in go-yaml's strict wording (``line 9: key "foo"
    already set in map``). Raises YAMLToJSONError; PyYAML's own syntax errors
    (yaml.YAMLError) pass through."""
    loader = _Loader(body)
    try:
        root = _compose(loader)
    finally:
        loader.dispose()
    if root is None:
        return None
    conv = _Converter(loader)
    out = conv.convert(root)
    if duplicates is not None:
        # in document order, as go-yaml lists them (the walk finishes outer maps first)
        duplicates.extend(m for _, m in sorted(conv.duplicates))
    return out


def _compose(loader: Any) -> Any:
    """The first document's node tree, built from parser events with an explicit stack.
    An anchor is registered when its node is complete, so a node cannot contain itself."""
    anchors: dict[str, yaml.Node] = {}
    stack: list[tuple[yaml.Node, str | None]] = []
    root: Any = None
    while loader.check_event():
        ev = loader.get_event()
        node: Any
        if isinstance(ev, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
            continue
        if isinstance(ev, (yaml.DocumentEndEvent, yaml.StreamEndEvent)):
            break  # upstream reads the first document only
        if isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise YAMLToJSONError(f'yaml: unknown anchor {ev.anchor!r} referenced')
            node = _Alias(anchors[ev.anchor])
        elif isinstance(ev, yaml.ScalarEvent):
            tag = ev.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
            node = yaml.ScalarNode(tag, ev.value, ev.start_mark,  # type: ignore[arg-type]
                                   style=ev.style)
            if ev.anchor is not None:
                anchors[ev.anchor] = node
        elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise YAMLToJSONError(f"yaml: exceeded max depth of {MAX_DEPTH}")
            seq = isinstance(ev, yaml.SequenceStartEvent)
            kind = yaml.SequenceNode if seq else yaml.MappingNode
            tag = ev.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, ev.implicit)
            stack.append((kind(tag, []), ev.anchor))
            continue
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node, anchor = stack.pop()
            if isinstance(node, yaml.MappingNode):
                flat = node.value
                node.value = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
            if anchor is not None:
                anchors[anchor] = node
        else:
            continue
        if not stack:
            root = node
            continue
        stack[-1][0].value.append(node)
    return root


class _Converter:
    """Node tree to JSON values, iteratively, counting decodes as go-yaml does."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.decodes = 0
        self.aliased = 0
        self.duplicates: list[tuple[int, str]] = []  # (line, go-yaml's message)

    def _count(self, in_alias: bool) -> None:
        self.decodes += 1
        if in_alias:
            self.aliased += 1
        if (self.aliased > 100 and self.decodes > 1000
                and self.aliased / self.decodes > _allowed_alias_ratio(self.decodes)):
            raise YAMLToJSONError("yaml: document contains excessive aliasing")

    def convert(self, root: Any) -> Any:
        # Work items: (node, depth, in_alias, sink) where sink(value) stores the result.
        result: list[Any] = [None]
        work: list[tuple[Any, int, bool, Any]] = [(root, 0, False, _Slot(result, 0))]
        while work:
            node, depth, in_alias, sink = work.pop()
            while isinstance(node, _Alias):
                node, in_alias = node.node, True
            self._count(in_alias)
            if isinstance(node, yaml.ScalarNode):
                sink.set(self._scalar(node))
                continue
            if depth >= MAX_DEPTH:
                raise YAMLToJSONError(f"yaml: exceeded max depth of {MAX_DEPTH}")
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, _Y + "seq")
                lst: list[Any] = [None] * len(node.value)
                sink.set(lst)
                for i in range(len(node.value) - 1, -1, -1):
                    work.append((node.value[i], depth + 1, in_alias, _Slot(lst, i)))
                continue
            self._check_tag(node, _Y + "map")
            obj: dict[str, Any] = {}
            sink.set(obj)
            pending: dict[str, tuple[Any, int, bool, Any]] = {}
            own, merged = self._pairs(node, in_alias)
            for key, value in own:
                k = self._key(key, value)
                if k in obj:  # the last of repeated keys wins, as in go-yaml
                    mark = getattr(key, "start_mark", None)
                    line = mark.line + 1 if mark is not None else 0
                    self.duplicates.append(
                        (line, f"line {line}: key {_go_quote(k)} already set in map"))
                    del pending[k]
                obj[k] = None
                pending[k] = (value, depth + 1, in_alias, _Slot(obj, k))
            for key, value in merged:
                k = self._key(key, value)
                if k in obj:
                    continue  # an explicit key wins over merged ones
                obj[k] = None
                pending[k] = (value, depth + 1, in_alias, _Slot(obj, k))
            work.extend(reversed(pending.values()))
        return result[0]

    def _pairs(self, node: yaml.MappingNode, in_alias: bool
               ) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]]:
        """The mapping's own pairs, and those merged in by ``<<`` keys (own keys win)."""
        own: list[tuple[Any, Any]] = []
        merged: list[tuple[Any, Any]] = []
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == _Y + "merge":
                merged.extend(self._merge_source(value, in_alias))
            else:
                own.append((key, value))
        return own, merged

    def _merge_source(self, value: Any, in_alias: bool) -> list[tuple[Any, Any]]:
        sources = [value]
        target = value.node if isinstance(value, _Alias) else value
        if isinstance(target, yaml.SequenceNode):
            sources = list(target.value)
        out: list[tuple[Any, Any]] = []
        for src in sources:
            aliased = in_alias or isinstance(src, _Alias)
            while isinstance(src, _Alias):
                src = src.node
            if not isinstance(src, yaml.MappingNode):
                raise YAMLToJSONError(
                    "yaml: map merge requires map or sequence of maps as the value"
                )
            self._count(aliased)
            own, merged = self._pairs(src, aliased)
            out.extend(own + merged)
        return out

    def _check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected and node.tag.startswith(_Y):
            raise YAMLToJSONError(f"yaml: unsupported tag {node.tag.replace(_Y, '!!')}")
        if node.tag.startswith("tag:") and not node.tag.startswith(_Y):
            raise YAMLToJSONError(f"yaml: unsupported tag {node.tag}")

    def _key(self, key: Any, value: Any) -> str:
        while isinstance(key, _Alias):
            key = key.node
        if not isinstance(key, yaml.ScalarNode):
            raise YAMLToJSONError("yaml: invalid map key: a sequence or a map is not a string")
        k = self._scalar(key)
        if isinstance(k, str):
            return k
        if isinstance(k, bool):
            return "true" if k else "false"
        if isinstance(k, int):
            return str(k)
        if isinstance(k, float):
            return _go_float(k)
        raise YAMLToJSONError(f"yaml: unsupported map key: {key.value!r} is not a string")

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            if tag.startswith(_Y) or tag.startswith("tag:"):
                raise YAMLToJSONError(f"yaml: unsupported tag {tag.replace(_Y, '!!')}")
            return str(node.value)  # an application tag (``!foo bar``): its text, as go-yaml
        value = node.value
        if tag in (_Y + "str", _Y + "timestamp", _Y + "merge", _Y + "value"):
            return str(value)
        if tag == _Y + "binary":
            try:
                raw = base64.b64decode("".join(str(value).split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise YAMLToJSONError(f"yaml: !!binary value contains invalid base64 data: "
                                      f"{exc}") from exc
            return raw.decode("utf-8", "replace")
        try:
            out = self.loader.yaml_constructors[tag](self.loader, node)
        except Exception as exc:  # PyYAML's constructors fail in many ways (''!!int)
            short = tag.replace(_Y, "!!")
            raise YAMLToJSONError(f"yaml: cannot decode {value!r} as a {short}") from exc
        if isinstance(out, float) and not math.isfinite(out):
            shown = "NaN" if math.isnan(out) else ("+Inf" if out > 0 else "-Inf")
            raise YAMLToJSONError(f"json: unsupported value: {shown}")
        if isinstance(out, int) and not isinstance(out, bool) and not (
            _INT64_MIN <= out <= _UINT64_MAX
        ):
            try:
                return float(out)  # go-yaml resolves an integer beyond 64 bits as a float
            except OverflowError:
                return str(value)  # nor a float: go-yaml keeps it as text
        return out


class _Slot:
    """Where a converted value goes: an index of a list or a key of a dict."""

    __slots__ = ("container", "key")

    def __init__(self, container: Any, key: Any) -> None:
        self.container = container
        self.key = key

    def set(self, value: Any) -> None:
        self.container[self.key] = value


def _go_quote(s: str) -> str:
    """``s`` quoted as Go's ``%q`` quotes a plain string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _go_float(f: float) -> str:
    """A float map key as Go's ``strconv.FormatFloat(f, 'g', -1, 64)`` writes it."""
    text = repr(f)
    if text.endswith(".0"):
        return text[:-2]
    return text
