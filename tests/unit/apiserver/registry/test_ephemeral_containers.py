"""The ``pods/ephemeralcontainers`` subresource (``kubectl debug``): get returns the Pod,
update/patch change only ``spec.ephemeralContainers``, with upstream's validation."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from tests.unit.apiserver.registry.registry_helpers import pod

SUB = "ephemeralcontainers"


def _ec(name: str = "debugger", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh"], "stdin": True, "tty": True,
            "targetContainerName": "c", **extra}


async def _patch(reg: Registry, ecs: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return await reg.patch("pods", "p", {"spec": {"ephemeralContainers": ecs}},
                           namespace="default", patch_type="strategic", subresource=SUB, **kw)


async def test_patch_adds_one_and_only_that_changes(reg: Registry) -> None:
    await reg.create("pods", pod("p"))
    got = await reg.get("pods", "p", namespace="default", subresource=SUB)
    assert got["kind"] == "Pod" and "ephemeralContainers" not in got["spec"]
    out = await reg.patch(
        "pods", "p", {"metadata": {"labels": {"x": "y"}}, "spec": {
            "activeDeadlineSeconds": 5, "ephemeralContainers": [_ec()]}},
        namespace="default", patch_type="strategic", subresource=SUB)
    ec = out["spec"]["ephemeralContainers"][0]
    assert ec["name"] == "debugger" and ec["terminationMessagePolicy"] == "File"
    assert ec["imagePullPolicy"] == "Always"  # :latest, defaulted as a container
    assert "activeDeadlineSeconds" not in out["spec"]  # only ephemeralContainers change
    assert "x" not in (out["metadata"].get("labels") or {})
    stored = await reg.get("pods", "p", namespace="default")
    assert stored["spec"]["ephemeralContainers"] == out["spec"]["ephemeralContainers"]
    # a second one, by update (PUT) with the first kept
    body = await reg.get("pods", "p", namespace="default", subresource=SUB)
    body["spec"]["ephemeralContainers"].append(_ec("second", targetContainerName=None))
    out = await reg.update("pods", body, namespace="default", subresource=SUB)
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["debugger", "second"]


async def test_validation(reg: Registry) -> None:
    await reg.create("pods", pod("p"))
    cname = (await reg.get("pods", "p", namespace="default"))["spec"]["containers"][0]["name"]
    with pytest.raises(errors.Invalid) as ei:
        await _patch(reg, [_ec(cname, targetContainerName="nope", ports=[
            {"containerPort": 80}], readinessProbe={"exec": {"command": ["true"]}})])
    fields = {c.field: c.message for c in ei.value.causes}
    assert fields["spec.ephemeralContainers[0].name"] == f'Duplicate value: "{cname}"'
    assert fields["spec.ephemeralContainers[0].targetContainerName"] == 'Not found: "nope"'
    assert fields["spec.ephemeralContainers[0].ports"] == (
        "Forbidden: cannot be set for an Ephemeral Container")
    assert "spec.ephemeralContainers[0].readinessProbe" in fields
    await _patch(reg, [_ec(targetContainerName=cname)])
    body = await reg.get("pods", "p", namespace="default", subresource=SUB)
    body["spec"]["ephemeralContainers"] = []
    with pytest.raises(errors.Invalid) as ei:
        await reg.update("pods", body, namespace="default", subresource=SUB)
    assert ei.value.causes[0].message == (
        'Forbidden: existing ephemeral containers "debugger" may not be removed\n')
    body["spec"]["ephemeralContainers"] = [_ec(targetContainerName=cname, image="alpine")]
    with pytest.raises(errors.Invalid) as ei:
        await reg.update("pods", body, namespace="default", subresource=SUB)
    assert ei.value.causes[0].field == "spec.ephemeralContainers[debugger]"


async def test_not_on_create_nor_through_the_pod(reg: Registry) -> None:
    p = pod("q")
    p["spec"]["ephemeralContainers"] = [_ec()]
    with pytest.raises(errors.Invalid) as ei:
        await reg.create("pods", p)
    assert [(c.field, c.message) for c in ei.value.causes] == [
        ("spec.ephemeralContainers", "Forbidden: cannot be set on create")]
    await reg.create("pods", pod("p"))
    with pytest.raises(errors.Invalid):
        await reg.patch("pods", "p", {"spec": {"ephemeralContainers": [_ec()]}},
                        namespace="default", patch_type="strategic")
    with pytest.raises(errors.NotFound):
        await reg.get("services", "kubernetes", namespace="default", subresource=SUB)


async def test_strategic_patches_merge_by_name(reg: Registry) -> None:
    """kubectl debug sends a two-way strategic merge patch holding only the new one."""
    await reg.create("pods", pod("p"))
    await _patch(reg, [_ec("one")])
    out = await _patch(reg, [_ec("two")])
    assert sorted(c["name"] for c in out["spec"]["ephemeralContainers"]) == ["one", "two"]
