"""The audit log over HTTPS: one audit.k8s.io/v1 Event line per mutating request at stage
ResponseComplete, with upstream's fields (user, verb, objectRef, responseStatus with the
failure's reason, timestamps), none for reads; a policy picks levels per rule (Request
adds the request body, RequestResponse the response, None drops)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kubesvc.apiserver.http import ApiServer
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore
from tests.integration.apiserver.harness import Http, ServerThread

POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [
    {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
    {"level": "RequestResponse", "resources": [{"group": "", "resources": ["configmaps"]}]},
    {"level": "Request", "verbs": ["delete"]},
    {"level": "Metadata"},
]}


class AuditedServer(ServerThread):
    def __init__(self, data_dir: Path, policy: Path | None) -> None:
        super().__init__(data_dir)
        self.log_path = data_dir / "audit.log"
        self.policy = policy

    async def _start(self) -> None:
        self.registry = Registry(MemoryStore(), compact_interval=0)
        await self.registry.start()
        self.server = ApiServer(self.registry, data_dir=self.data_dir, port=0,
                                audit_log_path=self.log_path, audit_policy_file=self.policy)
        await self.server.start()


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(params=["no-policy", "policy"])
def audited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditedServer]:
    policy = None
    if request.param == "policy":
        policy = tmp_path / "policy.yaml"
        policy.write_text(json.dumps(POLICY))
    st = AuditedServer(tmp_path, policy)
    st.start()
    try:
        yield st
    finally:
        st.stop()


def test_mutating_requests_are_audited(audited: AuditedServer) -> None:
    http = Http(audited.server.url, audited.server.ca_pem, audited.server.token)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"k": "v"}}
    code, headers, _ = http.request("POST", "/api/v1/namespaces/default/configmaps", cm,
                                    headers={"User-Agent": "audit-test/1.0"})
    assert code == 201
    assert http.request("GET", "/api/v1/namespaces/default/configmaps/c")[0] == 200
    assert http.request("DELETE", "/api/v1/namespaces/default/services/missing")[0] == 404
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
          "reason": "R", "message": "m"}
    assert http.request("POST", "/api/v1/namespaces/default/events", ev)[0] == 201
    events = _events(audited.log_path)
    with_policy = audited.policy is not None
    assert [e["verb"] for e in events] == (
        ["create", "delete"] if with_policy else ["create", "delete", "create"])
    create, delete = events[0], events[1]
    assert create["auditID"] == headers["audit-id"][0]
    for e in events:
        assert e["kind"] == "Event" and e["apiVersion"] == "audit.k8s.io/v1"
        assert e["stage"] == "ResponseComplete"
        assert e["user"]["username"] == "kubernetes-admin"
        assert "system:masters" in e["user"]["groups"]
        assert e["sourceIPs"] == ["127.0.0.1"]
        start = datetime.fromisoformat(e["requestReceivedTimestamp"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(e["stageTimestamp"].replace("Z", "+00:00"))
        assert start <= end
    assert create["requestURI"] == "/api/v1/namespaces/default/configmaps"
    assert create["userAgent"] == "audit-test/1.0"
    assert create["objectRef"] == {"resource": "configmaps", "namespace": "default",
                                   "name": "c", "apiVersion": "v1"}
    assert create["responseStatus"] == {"metadata": {}, "code": 201}
    assert delete["responseStatus"]["code"] == 404
    assert delete["responseStatus"]["reason"] == "NotFound"
    assert delete["responseStatus"]["status"] == "Failure"
    if with_policy:
        assert create["level"] == "RequestResponse"
        assert create["requestObject"]["data"] == {"k": "v"}
        assert create["responseObject"]["metadata"]["uid"]
        assert delete["level"] == "Request"  # the delete rule; no body was sent
    else:
        assert {e["level"] for e in events} == {"Metadata"}
        assert all("requestObject" not in e and "responseObject" not in e for e in events)
    assert (audited.log_path.stat().st_mode & 0o777) == 0o600


def test_serviceaccount_user_extra_is_audited(tmp_path: Path) -> None:
    """A pod-bound ServiceAccount token's user carries upstream's extra (pod name/uid,
    credential id) into the event's user, as kube-apiserver's audit does."""
    st = AuditedServer(tmp_path, None)
    st.start()
    try:
        http = Http(st.server.url, st.server.ca_pem, st.server.token)
        http.json("POST", "/api/v1/namespaces/default/serviceaccounts",
                  {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})
        code, pod = http.json("POST", "/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"serviceAccountName": "bot",
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause"}]}})
        assert code == 201
        code, tr = http.json("POST", "/api/v1/namespaces/default/serviceaccounts/bot/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p"}}})
        assert code == 201
        code, _ = http.json("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            {"apiVersion": "authentication.k8s.io/v1",
                             "kind": "SelfSubjectReview"}, token=tr["status"]["token"])
        assert code == 201
        ev = _events(st.log_path)[-1]
        assert ev["user"]["username"] == "system:serviceaccount:default:bot"
        extra = ev["user"]["extra"]
        assert extra["authentication.kubernetes.io/pod-name"] == ["p"]
        assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
        assert extra["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    finally:
        st.stop()
