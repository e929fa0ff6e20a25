"""managedFields bookkeeping: Update entries (merging per manager, operation, apiVersion
and subresource; taking fields over; removed fields), Apply (ownership, pruning,
conflicts with upstream's message, force, shared ownership of equal values, the
last-applied migration), client-supplied managedFields, manager names."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.fieldmanager import manager as fm
from kubesvc.api.fieldmanager import typed

T = typed.for_kind("apps/v1", "Deployment")
CM = typed.for_kind("v1", "ConfigMap")


def upd(live: Any, new: Any, who: str, *, t: typed.Type = T, sub: str = "",
        now: str = "t1") -> Any:
    new = copy.deepcopy(new)
    fm.update(live, new, manager=who, api_version="apps/v1" if t is T else "v1",
              subresource=sub, now=now, t=t, has_status=True)
    return new


def app(live: Any, cfg: Any, who: str, *, force: bool = False, t: typed.Type = T,
        now: str = "t2", sub: str = "") -> Any:
    return copy.deepcopy(fm.apply(live, cfg, manager=who,
                                  api_version="apps/v1" if t is T else "v1",
                                  subresource=sub, force=force, now=now, t=t,
                                  has_status=t is T))


def mf(obj: Any) -> dict[tuple[str, str, str], Any]:
    return {(e["manager"], e["operation"], e.get("subresource", "")): e
            for e in obj["metadata"].get("managedFields", [])}


def dep(replicas: int = 1, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": labels or {"app": "d"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "c", "image": "i"}]}}}}


def test_create_owns_everything_but_stripped_meta() -> None:
    obj = dep()
    obj["metadata"].update(uid="u", resourceVersion="1", creationTimestamp="x")
    out = upd(None, obj, "kubectl-create")
    e = mf(out)[("kubectl-create", "Update", "")]
    assert e["apiVersion"] == "apps/v1" and e["time"] == "t1"
    assert e["fieldsType"] == "FieldsV1"
    assert e["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}
    assert list(e) == ["manager", "operation", "apiVersion", "time", "fieldsType",
                       "fieldsV1"]


def test_update_takes_over_and_merges_entries() -> None:
    a = upd(None, dep(), "creator")
    b = dep(replicas=3)
    b["metadata"]["managedFields"] = a["metadata"]["managedFields"]
    b = upd(a, b, "scaler", now="t2")
    assert mf(b)[("scaler", "Update", "")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in mf(b)[("creator", "Update", "")]["fieldsV1"]["f:spec"]
    c = copy.deepcopy(b)
    c["metadata"]["labels"]["x"] = "1"
    c = upd(b, c, "scaler", now="t3")
    e = mf(c)[("scaler", "Update", "")]
    assert e["time"] == "t3"
    assert e["fieldsV1"] == {"f:metadata": {"f:labels": {"f:x": {}}},
                             "f:spec": {"f:replicas": {}}}
    # the same manager through a subresource is its own entry
    d = copy.deepcopy(c)
    d["spec"]["replicas"] = 5
    d = upd(c, d, "scaler", sub="scale", now="t4")
    assert mf(d)[("scaler", "Update", "scale")]["subresource"] == "scale"
    assert mf(d)[("scaler", "Update", "")]["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:x": {}}}}
    # an update that changes nothing leaves managedFields as they were
    assert upd(d, d, "other")["metadata"]["managedFields"] == d["metadata"]["managedFields"]


def test_removed_fields_leave_every_manager() -> None:
    a = upd(None, dep(app="d", tier="x"), "creator")
    b = copy.deepcopy(a)
    del b["metadata"]["labels"]["tier"]
    b = upd(a, b, "editor")
    assert mf(b)[("creator", "Update", "")]["fieldsV1"]["f:metadata"]["f:labels"] == {
        ".": {}, "f:app": {}}
    assert ("editor", "Update", "") not in mf(b)  # it took nothing


def test_client_managed_fields_replace_reset_and_keep() -> None:
    a = upd(None, dep(), "creator")
    keep = copy.deepcopy(a)
    keep["metadata"]["managedFields"] = []
    assert upd(a, keep, "x")["metadata"]["managedFields"] == a["metadata"]["managedFields"]
    reset = copy.deepcopy(a)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in upd(a, reset, "x")["metadata"]
    mine = copy.deepcopy(a)
    mine["metadata"]["managedFields"] = [{"manager": "me", "operation": "Apply",
                                          "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    out = upd(a, mine, "x")
    assert list(mf(out)) == [("me", "Apply", "")]
    # ... but not through a subresource
    assert list(mf(upd(a, mine, "x", sub="status"))) == [("creator", "Update", "")]


def test_apply_owns_what_it_applies_and_prunes() -> None:
    live = app(None, dep(app="d", tier="x"), "ssa")
    assert list(mf(live)) == [("ssa", "Apply", "")]
    again = dep(app="d")
    del again["spec"]["replicas"]
    out = app(live, again, "ssa", now="t3")
    assert out["metadata"]["labels"] == {"app": "d"}
    assert "replicas" not in out["spec"]
    e = mf(out)[("ssa", "Apply", "")]
    assert e["time"] == "t3" and "f:replicas" not in e["fieldsV1"]["f:spec"]
    # re-applying the same is a no-op that keeps the entry's time
    assert mf(app(out, again, "ssa", now="t9"))[("ssa", "Apply", "")]["time"] == "t3"


def test_apply_conflicts_force_and_shared_ownership() -> None:
    live = upd(None, dep(replicas=1), "kubectl-client-side-apply")
    # the same value: no conflict, both own it
    shared = app(live, dep(replicas=1), "ssa")
    assert "f:replicas" in mf(shared)[("kubectl-client-side-apply", "Update", "")][
        "fieldsV1"]["f:spec"]
    with pytest.raises(errors.Conflict) as err:
        app(shared, dep(replicas=2), "ssa")
    assert err.value.message == ('Apply failed with 1 conflict: conflict with '
                                 '"kubectl-client-side-apply" using apps/v1: .spec.replicas')
    assert [c.to_dict() for c in err.value.causes] == [{
        "reason": "FieldManagerConflict",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
        "field": ".spec.replicas"}]
    forced = app(shared, dep(replicas=2), "ssa", force=True)
    assert forced["spec"]["replicas"] == 2
    assert "f:replicas" not in mf(forced)[("kubectl-client-side-apply", "Update", "")][
        "fieldsV1"]["f:spec"]


def test_conflicts_message_with_several() -> None:
    live = app(None, dep(replicas=1, app="d", tier="a"), "one")
    live = app(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "d"}, "spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "i"}]}}}}, "two")
    with pytest.raises(errors.Conflict) as err:
        app(live, dep(replicas=2, app="d", tier="b") | {"spec": {
            "replicas": 2, "template": {"spec": {"containers": [
                {"name": "c", "image": "j"}]}}}}, "three")
    assert err.value.message == (
        'Apply failed with 4 conflicts: conflicts with "one":\n'
        "- .metadata.labels.tier\n- .spec.replicas\n"
        '- .spec.template.spec.containers[name="c"].image\n'
        'conflicts with "two":\n- .spec.template.spec.containers[name="c"].image')


def test_apply_with_managed_fields_is_rejected() -> None:
    cfg = dep()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(errors.BadRequest, match=r"metadata\.managedFields must be nil"):
        app(None, cfg, "ssa")


def test_kubectl_takes_client_side_applied_fields() -> None:
    last = dep(replicas=1)
    live = dep(replicas=1)
    live["metadata"]["annotations"] = {fm.LAST_APPLIED: json.dumps(last)}
    live = upd(None, live, "kubectl-client-side-apply")
    out = app(live, dep(replicas=4), "kubectl")  # no force needed for kubectl
    assert out["spec"]["replicas"] == 4
    assert json.loads(out["metadata"]["annotations"][fm.LAST_APPLIED])["spec"][
        "replicas"] == 4
    with pytest.raises(errors.Conflict):
        app(live, dep(replicas=4), "someone-else")


def test_status_reset_fields() -> None:
    live = app(None, dep() | {"status": {"replicas": 9}}, "ssa")
    assert "f:status" not in mf(live)[("ssa", "Apply", "")]["fieldsV1"]
    st = app(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                    "status": {"replicas": 2}, "spec": {"replicas": 7}}, "st", sub="status")
    assert mf(st)[("st", "Apply", "status")]["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_untyped_kind_and_user_agent() -> None:
    w = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
         "spec": {"list": [1, 2], "size": 1}}
    t = typed.for_kind("example.com/v1", "Widget")
    out = fm.apply(None, w, manager="m", api_version="example.com/v1", subresource="",
                   force=False, now="t", t=t, has_status=False)
    assert out["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {
        "f:list": {}, "f:size": {}}}
    assert fm.manager_from_user_agent(
        "kubectl-client-side-apply/v1.32.4 (linux/amd64) kubernetes/4cb5f07") == \
        "kubectl-client-side-apply"
    assert fm.manager_from_user_agent("Go-http-client/1.1") == "Go-http-client"
    assert fm.manager_from_user_agent("a\x00b" + "x" * 200) == "ab" + "x" * 126


def test_update_entries_are_capped_into_ancient_changes() -> None:
    obj = upd(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                     "data": {"k0": "v"}}, "m0", t=CM, now="2026-01-01T00:00:00Z")
    for i in range(1, 12):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        obj = upd(obj, new, f"m{i}", t=CM, now=f"2026-01-01T00:00:{i:02d}Z")
    owners = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert len(owners) == 10
    ancient = owners["ancient-changes"]
    # the three oldest (m0, m1, m2) went into the bucket, with the newest one's time
    assert ancient["fieldsV1"] == {"f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}}
    assert ancient["time"] == "2026-01-01T00:00:02Z"
    assert "m0" not in owners and "m3" in owners and "m11" in owners
