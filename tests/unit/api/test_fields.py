"""Unknown-field detection (fieldValidation=Strict/Warn) on the seed Service manifests and
on Pod templates, with upstream's message wording."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubesvc.api.fields import (
    decode_error_message,
    strict_decoding_message,
    unknown_fields,
    warning_messages,
)

SEED_SERVICES = """\
apiVersion: v1
kind: Service
metadata: {name: my-app-service}
spec:
  type: ClusterIP
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: my-nodeport}
spec:
  type: NodePort
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: my-lb, annotations: {any/thing: "x"}}
spec:
  type: LoadBalancer
  selector: {app: my-app}
  ports: [{port: 80, targetPort: http, protocol: TCP}]
  externalTrafficPolicy: Local
  loadBalancerSourceRanges: [10.0.0.0/8]
---
apiVersion: v1
kind: Service
metadata: {name: my-db}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: v1
kind: Service
metadata: {name: multi, labels: {app: web}}
spec:
  selector: {app: web}
  clusterIP: None
  ports:
  - {name: http, port: 80, targetPort: 8080, appProtocol: http}
  - {name: https, port: 443, targetPort: 8443}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
"""


@pytest.mark.parametrize(
    "doc", list(yaml.safe_load_all(SEED_SERVICES)), ids=lambda d: d["metadata"]["name"]
)
def test_seed_services_have_no_unknown_fields(doc: dict[str, Any]) -> None:
    assert unknown_fields(doc, api_version="v1", kind="Service") == []


def test_unknown_fields_are_reported_with_paths_in_document_order() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x", "labels": {"free": "form"}, "bogus": 1},
        "spec": {
            "foo": {"deep": 1},
            "ports": [{"port": 80}, {"port": 81, "bogus": 2}],
            "selector": {"anything": "goes"},
        },
        "extra": True,
    }
    paths = unknown_fields(svc, api_version="v1", kind="Service")
    assert paths == [".metadata.bogus", ".spec.foo", ".spec.ports[1].bogus", ".extra"]


def test_messages_match_upstream() -> None:
    paths = [".spec.foo", ".spec.ports[0].bogus"]
    assert warning_messages(paths) == [
        'unknown field "spec.foo"',
        'unknown field "spec.ports[0].bogus"',
    ]
    detail = strict_decoding_message(paths)
    assert detail == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.ports[0].bogus"'
    )
    assert decode_error_message("v1", "Service", detail) == (
        'Service in version "v1" cannot be handled as a Service: ' + detail
    )
    assert decode_error_message("apps/v1", "Deployment", "x") == (
        'Deployment in version "v1" cannot be handled as a Deployment: x'
    )


def test_pod_template_fields() -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "agnhost",
                            "args": ["netexec"],
                            "ports": [{"containerPort": 8080, "name": "http", "protocl": "TCP"}],
                            "env": [
                                {
                                    "name": "POD_IP",
                                    "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                                }
                            ],
                            "envFrom": [{"configMapRef": {"name": "cm"}}],
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": "http"},
                                "periodSeconds": 1,
                            },
                            "resources": {"limits": {"cpu": "100m"}, "requests": {"memory": 1}},
                            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
                            "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["X"]}},
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "v",
                            "emptyDir": {"sizeLimit": "1Gi"},
                            "secret": {"secretName": "s", "oops": 1},
                        }
                    ],
                    "tolerations": [{"operator": "Exists"}],
                    "affinity": {"podAntiAffinity": {}},
                },
            },
        },
    }
    assert unknown_fields(deploy, api_version="apps/v1", kind="Deployment") == [
        ".spec.template.spec.containers[0].ports[0].protocl",
        ".spec.template.spec.volumes[0].secret.oops",
    ]


def test_other_kinds() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"any": "key"},
        "binaryData": {"b": "AA=="},
        "stringData": {"x": "y"},
    }
    assert unknown_fields(cm, api_version="v1", kind="ConfigMap") == [".stringData"]
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"x": "y"}, "type": "Opaque"}
    assert unknown_fields(secret, api_version="v1", kind="Secret") == []
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["127.0.1.1"],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": "p"},
                "zone": "z",
                "hmm": 1,
            }
        ],
        "ports": [{"port": 80, "name": "http", "protocol": "TCP"}],
    }
    assert unknown_fields(eps, api_version="discovery.k8s.io/v1", kind="EndpointSlice") == [
        ".endpoints[0].hmm"
    ]
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {
            "holderIdentity": "n",
            "renewTime": "2024-01-01T00:00:00.000000Z",
            "leaseDurationSeconds": 40,
        },
    }
    assert unknown_fields(lease, api_version="coordination.k8s.io/v1", kind="Lease") == []
    mf = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:anything": {}}}}]
        },
    }
    assert unknown_fields(mf, api_version="v1", kind="Node") == []


def test_unknown_kind_and_type_mismatches_report_nothing() -> None:
    assert unknown_fields({"a": 1}, api_version="example.com/v1", kind="Widget") == []
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": "not-an-object",
        "metadata": {"labels": ["x"]},
    }
    assert unknown_fields(svc, api_version="v1", kind="Service") == []
