"""The bootstrap policy across API server restarts on one store: a deleted bootstrap role
comes back, a trimmed one gets its rules back, one annotated autoupdate=false is left as
the admin made it, and user-added rules and subjects are kept."""

from __future__ import annotations

from pathlib import Path

from kubesvc.apiserver.http import ApiServer
from kubesvc.apiserver.registry.core import Registry
from kubesvc.client.options import DeleteOptions
from kubesvc.storage.memory import MemoryStore

CR = "clusterroles.rbac.authorization.k8s.io"
CRB = "clusterrolebindings.rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


async def test_bootstrap_policy_is_reconciled_at_start(tmp_path: Path) -> None:
    registry = Registry(MemoryStore(), compact_interval=0)
    await registry.start()
    try:
        first = ApiServer(registry, data_dir=tmp_path, port=0)
        await first.start()
        await first.stop()
        await registry.delete(CR, "system:discovery", opts=DeleteOptions())
        basic = await registry.get(CR, "system:basic-user")
        extra = {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}
        basic["rules"] = [extra]
        await registry.update(CR, basic)
        frozen = await registry.get(CR, "system:public-info-viewer")
        frozen["metadata"]["annotations"][AUTOUPDATE] = "false"
        frozen["rules"] = []
        await registry.update(CR, frozen)
        crb = await registry.get(CRB, "system:basic-user")
        me = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "me"}
        crb["subjects"] = [me]
        await registry.update(CRB, crb)

        second = ApiServer(registry, data_dir=tmp_path, port=0)
        await second.start()
        try:
            discovery = await registry.get(CR, "system:discovery")
            assert {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*",
                    "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version",
                    "/version/"]} in discovery["rules"]
            basic = await registry.get(CR, "system:basic-user")
            assert basic["rules"][0] == extra and len(basic["rules"]) == 3
            assert (await registry.get(CR, "system:public-info-viewer"))["rules"] == []
            subjects = (await registry.get(CRB, "system:basic-user"))["subjects"]
            assert subjects[0] == me
            assert {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                    "name": "system:authenticated"} in subjects
        finally:
            await second.stop()
    finally:
        await registry.stop()
