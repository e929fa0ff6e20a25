"""managedFields bookkeeping for every write, as upstream's ``managedfields`` FieldManager
(stripMeta, managedFieldsUpdater, lastAppliedManager/Updater, the Update and Apply of
structured-merge-diff's ``merge.Updater``):

- :func:`update` (create, update, non-apply patch): the writer takes ownership of what it
  added or changed (from every other manager), removed fields leave every manager, and its
  entry (``manager``, ``Update``, ``apiVersion``, ``subresource``) merges with the one it
  had; a request carrying its own managedFields replaces the stored ones (an empty list
  keeps them, ``[{}]`` resets them), except on subresources;
- :func:`apply` (``application/apply-patch+yaml``): the applied configuration is merged
  into the live object, the applier owns exactly what it applied, fields it applied last
  time and no longer does are removed unless another manager owns them, and changing a
  field another manager owns is a 409 conflict unless ``force``. ``kubectl`` applying over
  a client-side-applied object may take the fields its last-applied annotation lists.

Entries are kept sorted as upstream writes them (Apply before Update, then by time,
manager, apiVersion, subresource). Called by the registry; pure apart from the clock
value it is given.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import orjson

from kubesvc import errors
from kubesvc.api.fieldmanager import fieldpath as fp
from kubesvc.api.fieldmanager import merge as mg
from kubesvc.api.fieldmanager.typed import Type

UPDATE = "Update"
APPLY = "Apply"
FIELDS_V1 = "FieldsV1"
MAX_MANAGER_LENGTH = 128
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL = "kubectl"  # kubectl apply --server-side's default manager

# What upstream's stripMeta leaves out of every field set.
_META_IGNORED = dict.fromkeys(
    ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
     "generation", "managedFields", "resourceVersion"))
STRIP: mg.Ignore = {"apiVersion": None, "kind": None, "metadata": _META_IGNORED}
# Reset fields: a main-resource write of a kind with a status subresource cannot set
# status, a status write cannot set spec (upstream's GetResetFields).
_MAIN_RESET: mg.Ignore = {**STRIP, "status": None}
_STATUS_RESET: mg.Ignore = {**STRIP, "spec": None}


def ignored(subresource: str, has_status: bool) -> mg.Ignore:
    if subresource == "status":
        return _STATUS_RESET
    if has_status and not subresource:
        return _MAIN_RESET
    return STRIP


def manager_from_user_agent(user_agent: str) -> str:
    """Upstream's prefixFromUserAgent: the User-Agent up to its first ``/``, printable
    characters only, at most 128 bytes (``kubectl-client-side-apply/v1.32.0 (...)`` ->
    ``kubectl-client-side-apply``)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable() and unicodedata.category(ch) != "Zs":
            continue
        n = len(ch.encode())
        if size + n > MAX_MANAGER_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


@dataclass(slots=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: fp.Node
    raw: dict[str, Any] | None = None  # the stored entry, while unchanged

    def set_fields(self, fields: fp.Node) -> None:
        if fields != self.fields:
            self.fields = fields
            self.raw = None

    def ident(self) -> tuple[str, str, str, str]:
        # Upstream's manager identifier: the apiVersion counts for Update entries only.
        return (self.manager, self.operation,
                self.api_version if self.operation == UPDATE else "", self.subresource)

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = FIELDS_V1
        out["fieldsV1"] = fp.encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def describe(self) -> str:
        """Upstream's printManager: ``"x" using apps/v1`` (Update), ``"x"`` (Apply),
        ``"x" with subresource "status" ...``."""
        out = _go_quote(self.manager)
        if self.subresource:
            out += f" with subresource {_go_quote(self.subresource)}"
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out


def _go_quote(s: str) -> str:
    return orjson.dumps(s).decode()


def decode(raw: Any, *, trusted: bool) -> list[Entry]:
    """Entries of a managedFields list; raises ValueError on a malformed one. ``trusted``
    lists (as stored) keep their fieldsV1 as they are; others are canonicalized."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    out: list[Entry] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("a managedFields entry must be an object")
        op = item.get("operation") or ""
        if op not in (UPDATE, APPLY, ""):
            raise ValueError(f"unknown operation {op!r}")
        ftype = item.get("fieldsType") or ""
        if ftype not in (FIELDS_V1, ""):
            raise ValueError(f"unknown fieldsType {ftype!r}")
        fields_raw = item.get("fieldsV1") or {}
        fields = fields_raw if trusted and isinstance(fields_raw, dict) else \
            fp.canonical(fields_raw)
        out.append(Entry(str(item.get("manager") or ""), op, str(item.get("apiVersion") or ""),
                         item.get("time") or None, str(item.get("subresource") or ""),
                         fields, item if trusted else None))
    return out


def encode(entries: list[Entry]) -> list[dict[str, Any]]:
    entries = sorted(entries, key=lambda e: (e.operation, e.time or "", e.manager,
                                             e.api_version, e.subresource))
    return [e.raw if e.raw is not None else e.encode() for e in entries]


MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"


def cap_updates(entries: list[Entry]) -> list[Entry]:
    """Upstream's capManagersManager: past 10 Update entries, the oldest are merged, per
    apiVersion, into an ``ancient-changes`` entry (with the newest merged one's time)."""
    updates = [e for e in entries if e.operation == UPDATE]
    if len(updates) <= MAX_UPDATE_MANAGERS:
        return entries
    updates.sort(key=lambda e: (e.time or "", e.manager))
    gone: set[int] = set()
    first: dict[str, Entry] = {}
    buckets: dict[str, Entry] = {}
    length = len(updates)
    for e in updates:
        if length <= MAX_UPDATE_MANAGERS:
            break
        f = first.get(e.api_version)
        if f is None:
            first[e.api_version] = e
            continue
        bucket = buckets.get(e.api_version)
        if bucket is None:
            bucket = buckets[e.api_version] = Entry(ANCIENT, UPDATE, e.api_version, f.time, "",
                                                    f.fields)
            gone.add(id(f))
        bucket.fields = fp.union(bucket.fields, e.fields)
        bucket.time = e.time
        gone.add(id(e))
        length -= 1
    out = [e for e in entries if id(e) not in gone
           and not (e.manager == ANCIENT and e.operation == UPDATE and e.api_version in buckets)]
    for v, b in buckets.items():
        old = next((e for e in entries if e.manager == ANCIENT and e.operation == UPDATE
                    and e.api_version == v and id(e) not in gone), None)
        if old is not None:
            b.fields = fp.union(old.fields, b.fields)
        out.append(b)
    return out


def _store(meta: dict[str, Any], entries: list[Entry]) -> None:
    kept = cap_updates([e for e in entries if e.fields])
    if kept:
        meta["managedFields"] = encode(kept)
    else:
        meta.pop("managedFields", None)


# Struct fields that are values, not pointers, in upstream's Go types (a zero object has
# them as {}), and list fields without omitempty (null in a zero object).
_VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy",
                            "updateStrategy", "jobTemplate"})
_NULL_LISTS = frozenset({"containers"})


def _skeleton(obj: dict[str, Any]) -> dict[str, Any]:
    """The "empty object" a create compares against: upstream compares with a zero Go
    struct, whose value-typed structs (metadata, spec, a template and its spec...) are
    present, so a creator owns what is in them but not them as themselves."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k in _VALUE_STRUCTS and isinstance(v, dict):
            out[k] = _skeleton(v)
        elif k in _NULL_LISTS and isinstance(v, list):
            out[k] = []
    return out


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = obj["metadata"] = {}
    return md


def update(live: dict[str, Any] | None, new: dict[str, Any], *, manager: str,
           api_version: str, subresource: str, now: str, t: Type,
           has_status: bool) -> None:
    """Set ``new``'s managedFields for an Update operation by ``manager`` (in place)."""
    nmeta = _meta(new)
    live_raw = (live.get("metadata") or {}).get("managedFields") if live else None
    entries: list[Entry] | None = None
    raw = nmeta.get("managedFields")
    if not subresource and isinstance(raw, list) and raw:
        same = raw is live_raw or raw == live_raw
        try:
            entries = decode(raw, trusted=same)
        except ValueError:
            entries = None
    if entries is None:
        try:
            entries = decode(live_raw, trusted=True)
        except ValueError:
            entries = []
    try:
        cmp = mg.compare(live if live is not None else _skeleton(new), new, t,
                         ignored(subresource, has_status))
    except mg.FieldError:
        nmeta.pop("managedFields", None)  # upstream's UpdateNoErrors: clear, never fail
        return
    changed = cmp.changed()
    me = _find(entries, manager, UPDATE, api_version, subresource)
    if changed or cmp.removed:
        for e in entries:
            if changed and e is not me:
                e.set_fields(fp.difference(e.fields, changed))
            if cmp.removed:
                e.set_fields(fp.difference(e.fields, cmp.removed))
    if changed:
        if me is None:
            me = Entry(manager, UPDATE, api_version, now, subresource, changed)
            entries.append(me)
        else:
            me.fields = fp.union(me.fields, changed)
            me.time = now
            me.raw = None
    _store(nmeta, entries)


def _find(entries: list[Entry], manager: str, operation: str, api_version: str,
          subresource: str) -> Entry | None:
    want = (manager, operation, api_version if operation == UPDATE else "", subresource)
    for e in entries:
        if e.ident() == want:
            return e
    return None


def apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str,
          api_version: str, subresource: str, force: bool, now: str, t: Type,
          has_status: bool) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: absent), with
    its managedFields. Shares subtrees with both inputs: copy before mutating it. Raises
    Conflict (409, upstream's message and causes) or BadRequest."""
    cmeta = config.get("metadata")
    if isinstance(cmeta, dict) and cmeta.get("managedFields") is not None:
        raise errors.BadRequest(message="metadata.managedFields must be nil")
    ignore = ignored(subresource, has_status)
    try:
        entries = decode((live.get("metadata") or {}).get("managedFields") if live else None,
                         trusted=True)
    except ValueError:
        entries = []
    try:
        applied = mg.field_set(config, t, ignore)
        merged = mg.merge(live if live is not None else {}, config, t)
        me = _find(entries, manager, APPLY, api_version, subresource)
        others = [e for e in entries if e is not me]
        if me is not None and me.fields:
            owned = applied
            for e in others:
                owned = fp.union(owned, e.fields)
            merged = mg.remove(merged, fp.difference(me.fields, owned), t, owned)
        cmp = mg.compare(live if live is not None else _skeleton(merged), merged, t, ignore)
    except mg.FieldError as exc:
        raise errors.BadRequest(message=f"failed to create typed patch object: {exc}") from exc
    changed = cmp.changed()
    conflicts = [(e, c) for e in others if (c := fp.intersection(e.fields, changed))]
    if conflicts and not force and not _allowed_by_last_applied(
            live, manager, conflicts, t, ignore):
        raise conflict_error(conflicts)
    for e, c in conflicts:
        e.set_fields(fp.difference(e.fields, c))
    if cmp.removed:
        for e in others:
            e.set_fields(fp.difference(e.fields, cmp.removed))
    time = now if (not cmp.empty() or me is None or not me.time) else me.time
    others.append(Entry(manager, APPLY, api_version, time, subresource, applied))
    out = dict(merged)
    out["metadata"] = mmeta = dict(merged.get("metadata") or {})
    if manager == KUBECTL and live is not None:
        _sync_last_applied(mmeta, live, config)
    _store(mmeta, others)
    return out


def _allowed_by_last_applied(live: dict[str, Any] | None, manager: str,
                             conflicts: list[tuple[Entry, fp.Node]], t: Type,
                             ignore: mg.Ignore) -> bool:
    """Upstream's lastAppliedManager: ``kubectl`` may take, without force, fields that
    the client-side-apply annotation of the live object lists."""
    if manager != KUBECTL or live is None:
        return False
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return False
    try:
        last = orjson.loads(text)
        allowed = mg.field_set(last, t, ignore)
    except (orjson.JSONDecodeError, mg.FieldError):
        return False
    return all(fp.has(allowed, p) for _, c in conflicts for p in fp.members(c))


def _sync_last_applied(mmeta: dict[str, Any], live: dict[str, Any],
                       config: dict[str, Any]) -> None:
    """Upstream's lastAppliedUpdater: ``kubectl`` applying server-side keeps an existing
    last-applied annotation in step with what it applied."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED not in annotations:
        return
    body = dict(config)
    cm = dict(body.get("metadata") or {})
    ca = {k: v for k, v in (cm.get("annotations") or {}).items() if k != LAST_APPLIED}
    if ca:
        cm["annotations"] = ca
    else:
        cm.pop("annotations", None)
    body["metadata"] = cm
    mmeta["annotations"] = {**(mmeta.get("annotations") or {}),
                            LAST_APPLIED: orjson.dumps(body).decode() + "\n"}


def conflict_error(conflicts: list[tuple[Entry, fp.Node]]) -> errors.Conflict:
    """Upstream's NewConflictError: one cause per conflicting path, and the message
    ``Apply failed with 1 conflict: conflict with "x" using apps/v1: .spec.replicas``."""
    flat = [(e, p) for e, c in conflicts for p in fp.members(c)]
    causes = [errors.Cause("FieldManagerConflict", f"conflict with {e.describe()}",
                           fp.path_string(p)) for e, p in flat]
    if len(flat) == 1:
        e, p = flat[0]
        message = (f"Apply failed with 1 conflict: conflict with {e.describe()}: "
                   f"{fp.path_string(p)}")
    else:
        by_manager: dict[str, list[str]] = {}
        for e, p in flat:
            by_manager.setdefault(e.describe(), []).append(fp.path_string(p))
        lines: list[str] = []
        for who in sorted(by_manager):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {p}" for p in by_manager[who])
        message = f"Apply failed with {len(flat)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message=message, causes=causes)
