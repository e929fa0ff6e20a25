"""Malformed input never crashes defaulting or validation: every field of a well-formed
object of each kind is replaced, one at a time, by values of the wrong shape; defaulting and
all three validators must still return (a list of causes), never raise."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.defaults.service import finish_service_defaults, prepare_service_update
from kubesvc.api.validation import validate_create, validate_status_update, validate_update
from kubesvc.errors import Cause

WRONG: list[Any] = [None, -1, 80, "x", "", [], ["a"], [None], {}, {"a": 1}, True, 1.5]

BASE: dict[str, dict[str, Any]] = {
    "services": {
        "metadata": {"name": "a", "namespace": "d", "annotations": {"a": "b"}},
        "spec": {
            "selector": {"a": "b"},
            "type": "NodePort",
            "clusterIP": "10.0.0.1",
            "ports": [{"port": 80, "name": "h", "targetPort": "x", "nodePort": 30000}],
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
            "externalIPs": ["1.2.3.4"],
            "ipFamilies": ["IPv4"],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}},
    },
    "pods": {
        "metadata": {"name": "a", "namespace": "d"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "ports": [{"containerPort": 1}],
                    "env": [{"name": "x"}],
                    "livenessProbe": {"httpGet": {"port": 1}},
                    "volumeMounts": [{"name": "v", "mountPath": "/"}],
                }
            ],
            "volumes": [{"name": "v"}],
        },
        "status": {"podIPs": [{"ip": "1.1.1.1"}], "hostIPs": [{"ip": "x"}]},
    },
    "deployments.apps": {
        "metadata": {"name": "a", "namespace": "d"},
        "spec": {
            "selector": {
                "matchLabels": {"a": "b"},
                "matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}],
            },
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"rollingUpdate": {"maxSurge": 1}},
        },
        "status": {"replicas": 1},
    },
    "endpoints": {
        "metadata": {"name": "a", "namespace": "d"},
        "subsets": [{"addresses": [{"ip": "1.1.1.1", "nodeName": "n"}], "ports": [{"port": 1}]}],
    },
    "endpointslices.discovery.k8s.io": {
        "metadata": {"name": "a", "namespace": "d"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["1.1.1.1"], "hints": {"forZones": [{"name": "z"}]}}],
        "ports": [{"port": 1}],
    },
    "namespaces": {"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}},
    "nodes": {
        "metadata": {"name": "a"},
        "spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "k", "effect": "NoSchedule"}]},
    },
    "configmaps": {"metadata": {"name": "a", "namespace": "d"}, "data": {"a": "b"}},
    "secrets": {
        "metadata": {"name": "a", "namespace": "d"},
        "data": {"a": "eA=="},
        "type": "kubernetes.io/tls",
    },
    "leases.coordination.k8s.io": {
        "metadata": {"name": "a", "namespace": "d"},
        "spec": {"leaseDurationSeconds": 1},
    },
}


def _paths(o: Any, p: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if p:
        yield p
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, (*p, k))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _paths(v, (*p, i))


def _set(o: Any, p: tuple[Any, ...], v: Any) -> None:
    for k in p[:-1]:
        o = o[k]
    o[p[-1]] = v


@pytest.mark.parametrize("key", sorted(BASE))
def test_wrong_shapes_never_raise(key: str) -> None:
    base = BASE[key]
    old = copy.deepcopy(base)
    old["metadata"]["resourceVersion"] = "1"
    checked = 0
    for path in list(_paths(base)):
        for wrong in WRONG:
            obj = copy.deepcopy(base)
            _set(obj, path, copy.deepcopy(wrong))
            apply_defaults(key, obj)
            if key == "services":
                prepare_service_update(obj, old)
                finish_service_defaults(obj)
            for causes in (
                validate_create(key, obj),
                validate_update(key, obj, old),
                validate_status_update(key, obj, old),
            ):
                assert all(isinstance(c, Cause) for c in causes)
            checked += 1
    assert checked >= len(WRONG) * 5
