"""The official ``kubernetes`` Python client against the in-process API server: CRUD,
list with label/field selectors and paging, watch from a resourceVersion, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException


@pytest.fixture(scope="module")
def core(kubeconfig: Path) -> Iterator[Any]:
    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


def _svc(name: str, labels: dict[str, str] | None = None) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1ServiceSpec(
            selector={"app": name},
            ports=[client.V1ServicePort(port=80, target_port=8080)],
        ),
    )


def test_crud(core: Any) -> None:
    created = core.create_namespaced_service("default", _svc("py-crud", {"tier": "a"}))
    assert created.metadata.name == "py-crud"
    assert created.spec.cluster_ip
    assert created.spec.ports[0].protocol == "TCP"
    got = core.read_namespaced_service("py-crud", "default")
    assert got.metadata.uid == created.metadata.uid
    got.metadata.labels["tier"] = "b"
    updated = core.replace_namespaced_service("py-crud", "default", got)
    assert updated.metadata.labels["tier"] == "b"
    assert updated.metadata.resource_version != got.metadata.resource_version
    patched = core.patch_namespaced_service(
        "py-crud", "default", {"metadata": {"annotations": {"x": "y"}}}
    )
    assert patched.metadata.annotations == {"x": "y"}
    # A stale resourceVersion conflicts.
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_service("py-crud", "default", got)
    assert exc.value.status == 409
    core.delete_namespaced_service("py-crud", "default")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_service("py-crud", "default")
    assert exc.value.status == 404


def test_create_conflict_and_dry_run(core: Any) -> None:
    core.create_namespaced_service("default", _svc("py-dup"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("default", _svc("py-dup"))
    assert exc.value.status == 409
    assert '"reason":"AlreadyExists"' in str(exc.value.body).replace(" ", "")
    dry = core.create_namespaced_service("default", _svc("py-dry"), dry_run="All")
    assert dry.metadata.name == "py-dry"
    with pytest.raises(ApiException):
        core.read_namespaced_service("py-dry", "default")


def test_list_with_selectors_and_paging(core: Any) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-list")))
    for i in range(5):
        svc = _svc(f"s{i}", {"group": "even" if i % 2 == 0 else "odd"})
        core.create_namespaced_service("py-list", svc)
    even = core.list_namespaced_service("py-list", label_selector="group=even")
    assert sorted(s.metadata.name for s in even.items) == ["s0", "s2", "s4"]
    notodd = core.list_namespaced_service("py-list", label_selector="group!=odd")
    assert len(notodd.items) == 3
    one = core.list_namespaced_service("py-list", field_selector="metadata.name=s3")
    assert [s.metadata.name for s in one.items] == ["s3"]
    page1 = core.list_namespaced_service("py-list", limit=2)
    assert len(page1.items) == 2 and page1.metadata._continue
    page2 = core.list_namespaced_service("py-list", limit=10, _continue=page1.metadata._continue)
    names = [s.metadata.name for s in page1.items + page2.items]
    assert sorted(names) == [f"s{i}" for i in range(5)]
    everywhere = core.list_service_for_all_namespaces(label_selector="group=odd")
    assert sorted(s.metadata.name for s in everywhere.items) == ["s1", "s3"]


def test_watch_from_resource_version(core: Any) -> None:
    start = core.list_namespaced_service("default").metadata.resource_version
    events: list[tuple[str, str]] = []
    done = threading.Event()

    def run() -> None:
        w: Any = watch.Watch()  # type: ignore[no-untyped-call]
        for ev in w.stream(core.list_namespaced_service, "default",
                           resource_version=start, timeout_seconds=5):
            obj: Any = ev["object"]
            if obj.metadata.name == "py-watch":
                events.append((ev["type"], obj.metadata.labels.get("v", "")))
                if ev["type"] == "DELETED":
                    w.stop()
        done.set()

    # The writes happen before the watch starts: they are replayed from `start`.
    core.create_namespaced_service("default", _svc("py-watch", {"v": "1"}))
    core.patch_namespaced_service("py-watch", "default", {"metadata": {"labels": {"v": "2"}}})
    core.delete_namespaced_service("py-watch", "default")
    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert done.wait(10)
    assert events == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_watch_label_selector_live(core: Any) -> None:
    rv = core.list_namespaced_service("default").metadata.resource_version
    seen: list[str] = []
    started = threading.Event()

    def run() -> None:
        w: Any = watch.Watch()  # type: ignore[no-untyped-call]
        started.set()
        for ev in w.stream(core.list_namespaced_service, "default", label_selector="w=yes",
                           resource_version=rv, timeout_seconds=5):
            seen.append(ev["object"].metadata.name)
            if len(seen) == 1:
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(5)
    core.create_namespaced_service("default", _svc("py-w-no", {"w": "no"}))
    core.create_namespaced_service("default", _svc("py-w-yes", {"w": "yes"}))
    t.join(10)
    assert seen == ["py-w-yes"]


def test_self_subject_reviews(kubeconfig: Path) -> None:
    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    try:
        authz = client.AuthorizationV1Api(api_client)
        review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb="list", resource="services", namespace="default"))))
        assert review.status.allowed is True
        assert review.spec.resource_attributes.resource == "services"
        with pytest.raises(ApiException) as exc:
            authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec()))
        assert exc.value.status == 422
        rules = authz.create_self_subject_rules_review(client.V1SelfSubjectRulesReview(
            spec=client.V1SelfSubjectRulesReviewSpec(namespace="default")))
        assert rules.status.incomplete is False
        assert rules.status.resource_rules[0].verbs == ["*"]
        me = client.AuthenticationV1Api(api_client).create_self_subject_review(
            client.V1SelfSubjectReview())
        assert me.status.user_info.username == "kubernetes-admin"
        assert "system:authenticated" in me.status.user_info.groups
    finally:
        api_client.close()
