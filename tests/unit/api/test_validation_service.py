"""Service create validation: every rule, with upstream v1.32 field paths and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.defaults import apply_defaults
from kubesvc.api.defaults.service import finish_service_defaults
from kubesvc.api.validation import validate_allocated, validate_create

DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def svc(spec: dict[str, Any], name: str = "web", **meta: Any) -> dict[str, Any]:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", **meta},
        "spec": copy.deepcopy(spec),
    }
    apply_defaults("services", obj)
    return obj


def pairs(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate_create("services", obj)]


def one(obj: dict[str, Any]) -> tuple[str, str, str]:
    causes = validate_create("services", obj)
    assert len(causes) == 1, causes
    return causes[0].field, causes[0].reason, causes[0].message


BASIC = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}


def test_regex_error_has_upstream_double_space() -> None:
    # Upstream RegexError appends ", " after each example and joins with " or ".
    assert one(svc(BASIC, name="Web_1")) == (
        "metadata.name",
        "FieldValueInvalid",
        f'Invalid value: "Web_1": {DNS1035}',
    )


@pytest.mark.parametrize("name", ["1abc", "abc-", "a.b", "ab_c"])
def test_names_must_be_dns1035(name: str) -> None:
    field, reason, msg = one(svc(BASIC, name=name))
    assert (field, reason) == ("metadata.name", "FieldValueInvalid")
    assert msg.startswith(f'Invalid value: "{name}": a DNS-1035 label')


def test_name_too_long() -> None:
    name = "a" * 64
    assert pairs(svc(BASIC, name=name)) == [
        ("metadata.name", f'Invalid value: "{name}": must be no more than 63 characters')
    ]


def test_name_required_and_generate_name() -> None:
    obj = svc(BASIC, name="")
    assert pairs(obj) == [("metadata.name", "Required value: name or generateName is required")]
    obj = svc(BASIC, name="web-abcde", generateName="Bad-")
    field, _, msg = one(obj)
    assert field == "metadata.generateName" and msg.startswith('Invalid value: "Bad-": a DNS-1035')


def test_namespace_required() -> None:
    obj = svc(BASIC)
    del obj["metadata"]["namespace"]
    assert pairs(obj) == [("metadata.namespace", "Required value")]


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_range(port: int) -> None:
    obj = svc({"selector": {"app": "web"}, "ports": [{"port": port, "targetPort": 80}]})
    assert one(obj) == (
        "spec.ports[0].port",
        "FieldValueInvalid",
        f"Invalid value: {port}: must be between 1 and 65535, inclusive",
    )


def test_message_aggregates_like_upstream() -> None:
    obj = svc({"selector": {"app": "web"}, "ports": [{"port": 0, "targetPort": 80}]}, name="x")
    err = errors.invalid("Service", "x", validate_create("services", obj))
    assert err.message == (
        'Service "x" is invalid: spec.ports[0].port: Invalid value: 0: '
        "must be between 1 and 65535, inclusive"
    )
    assert err.status()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.ports[0].port",
            "message": "Invalid value: 0: must be between 1 and 65535, inclusive",
        }
    ]
    assert err.code == 422


def test_ports_required_except_headless_and_external_name() -> None:
    assert pairs(svc({"selector": {"app": "web"}})) == [("spec.ports", "Required value")]
    assert pairs(svc({"clusterIP": "None", "selector": {"app": "web"}})) == []
    assert pairs(svc({"type": "ExternalName", "externalName": "db.example.com"})) == []


def test_port_names_required_with_several_ports() -> None:
    obj = svc({"selector": {"a": "b"}, "ports": [{"port": 80}, {"port": 443, "name": "https"}]})
    assert pairs(obj) == [("spec.ports[0].name", "Required value")]


def test_port_names_unique_and_dns_labels() -> None:
    obj = svc(
        {
            "selector": {"a": "b"},
            "ports": [
                {"name": "http", "port": 80},
                {"name": "http", "port": 81},
                {"name": "Bad", "port": 82},
            ],
        }
    )
    got = pairs(obj)
    assert got[0] == ("spec.ports[1].name", 'Duplicate value: "http"')
    assert got[1][0] == "spec.ports[2].name"
    assert got[1][1].startswith('Invalid value: "Bad": a lowercase RFC 1123 label must consist')
    assert len(got) == 2


def test_duplicate_port_and_protocol() -> None:
    obj = svc(
        {
            "selector": {"a": "b"},
            "ports": [
                {"name": "a", "port": 80},
                {"name": "b", "port": 80},
                {"name": "c", "port": 80, "protocol": "UDP"},
            ],
        }
    )
    assert pairs(obj) == [
        (
            "spec.ports[1]",
            'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
            "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, "
            'IntVal:0, StrVal:""}, NodePort:0}',
        )
    ]


def test_protocol_unsupported() -> None:
    obj = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "protocol": "HTTP"}]})
    assert pairs(obj) == [
        (
            "spec.ports[0].protocol",
            'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        )
    ]


def test_named_target_port_is_iana_service_name() -> None:
    ok = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "http-alt"}]})
    assert pairs(ok) == []
    bad = svc(
        {"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "very-long-port-name"}]}
    )
    assert pairs(bad) == [
        (
            "spec.ports[0].targetPort",
            'Invalid value: "very-long-port-name": must be no more than 15 characters',
        )
    ]
    digits = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "8080"}]})
    assert pairs(digits) == [
        (
            "spec.ports[0].targetPort",
            'Invalid value: "8080": must contain at least one letter (a-z)',
        )
    ]
    hyph = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "a--b"}]})
    assert pairs(hyph) == [
        ("spec.ports[0].targetPort", 'Invalid value: "a--b": must not contain consecutive hyphens')
    ]


def test_target_port_number_range() -> None:
    obj = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": 70000}]})
    assert pairs(obj) == [
        ("spec.ports[0].targetPort", "Invalid value: 70000: must be between 1 and 65535, inclusive")
    ]


def test_unsupported_type() -> None:
    obj = svc({**BASIC, "type": "Foo"})
    assert (
        "spec.type",
        'Unsupported value: "Foo": supported values: "ClusterIP", '
        '"ExternalName", "LoadBalancer", "NodePort"',
    ) in pairs(obj)


@pytest.mark.parametrize("stype", ["NodePort", "LoadBalancer"])
def test_headless_only_for_cluster_ip(stype: str) -> None:
    obj = svc({**BASIC, "type": stype, "clusterIP": "None"})
    assert pairs(obj) == [
        (
            "spec.clusterIPs[0]",
            f"Invalid value: \"None\": may not be set to 'None' for {stype} services",
        )
    ]


def test_external_name_rules() -> None:
    assert pairs(svc({"type": "ExternalName"})) == [("spec.externalName", "Required value")]
    bad = pairs(svc({"type": "ExternalName", "externalName": "Not_A_Host"}))
    assert bad[0][0] == "spec.externalName"
    assert bad[0][1].startswith('Invalid value: "Not_A_Host": a lowercase RFC 1123 subdomain')
    assert pairs(svc({"type": "ExternalName", "externalName": "db.example.com."})) == []
    with_ip = svc(
        {"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.0.0.10"}
    )
    assert pairs(with_ip) == [
        ("spec.clusterIPs", "Forbidden: may not be set for ExternalName services")
    ]
    fam = svc(
        {
            "type": "ExternalName",
            "externalName": "db.example.com",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        }
    )
    assert pairs(fam) == [
        ("spec.ipFamilies", "Forbidden: may not be set for ExternalName services"),
        ("spec.ipFamilyPolicy", "Forbidden: may not be set for ExternalName services"),
    ]


def test_node_port_forbidden_for_cluster_ip() -> None:
    obj = svc({"selector": {"a": "b"}, "ports": [{"port": 80, "nodePort": 30080}]})
    assert pairs(obj) == [
        ("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")
    ]


def test_duplicate_node_ports() -> None:
    obj = svc(
        {
            "type": "NodePort",
            "selector": {"a": "b"},
            "ports": [
                {"name": "a", "port": 80, "nodePort": 30080},
                {"name": "b", "port": 81, "nodePort": 30080},
            ],
        }
    )
    assert pairs(obj) == [("spec.ports[1].nodePort", "Duplicate value: 30080")]


def test_selector_labels_valid() -> None:
    obj = svc({"selector": {"app": "bad value!"}, "ports": [{"port": 80}]})
    field, _, msg = one(obj)
    assert field == "spec.selector"
    assert msg.startswith('Invalid value: "bad value!": a valid label must be an empty string')
    obj = svc({"selector": {"-bad": "x"}, "ports": [{"port": 80}]})
    field, _, msg = one(obj)
    assert field == "spec.selector" and msg.startswith('Invalid value: "-bad": name part must')


def test_load_balancer_source_ranges() -> None:
    obj = svc(
        {
            **BASIC,
            "type": "LoadBalancer",
            "loadBalancerSourceRanges": ["10.0.0.0/8", " 192.168.0.0/16 ", "nope"],
        }
    )
    assert pairs(obj) == [
        (
            "spec.LoadBalancerSourceRanges[2]",
            'Invalid value: "nope": must be a '
            "valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )
    ]
    obj = svc({**BASIC, "loadBalancerSourceRanges": ["10.0.0.0/8"]})
    assert pairs(obj) == [
        (
            "spec.LoadBalancerSourceRanges",
            "Forbidden: may only be used when `type` is 'LoadBalancer'",
        )
    ]


@pytest.mark.parametrize("timeout", [0, 86401, -5])
def test_session_affinity_timeout_bounds(timeout: int) -> None:
    obj = svc(
        {
            **BASIC,
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}},
        }
    )
    assert pairs(obj) == [
        (
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            f"Invalid value: {timeout}: must be greater than 0 and less than 86400",
        )
    ]


def test_session_affinity_values() -> None:
    ok = svc(
        {
            **BASIC,
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86400}},
        }
    )
    assert pairs(ok) == []
    bad = svc({**BASIC, "sessionAffinity": "Sticky"})
    assert pairs(bad) == [
        (
            "spec.sessionAffinity",
            'Unsupported value: "Sticky": supported values: "ClientIP", "None"',
        )
    ]


def test_external_ips() -> None:
    obj = svc({**BASIC, "externalIPs": ["1.2.3.4", "999.1.1.1", "127.0.0.1"]})
    assert pairs(obj) == [
        (
            "spec.externalIPs[1]",
            'Invalid value: "999.1.1.1": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
        (
            "spec.externalIPs[2]",
            'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        ),
    ]


def test_cluster_ip_must_be_an_ip() -> None:
    obj = svc({**BASIC, "clusterIP": "10.0.0.300"})
    assert pairs(obj) == [
        (
            "spec.clusterIPs[0]",
            'Invalid value: "10.0.0.300": must be a valid '
            "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )
    ]


def test_cluster_ips_must_match_cluster_ip() -> None:
    obj = svc({**BASIC, "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]})
    assert pairs(obj) == [
        (
            "spec.clusterIPs",
            'Invalid value: []string{"10.0.0.2"}: first value must match `clusterIP`',
        )
    ]


def test_ip_family_values() -> None:
    obj = svc({**BASIC, "ipFamilies": ["IPv5"], "ipFamilyPolicy": "Sometimes"})
    assert pairs(obj) == [
        ("spec.ipFamilies[0]", 'Unsupported value: "IPv5": supported values: "IPv4", "IPv6"'),
        (
            "spec.ipFamilyPolicy",
            'Unsupported value: "Sometimes": supported values: '
            '"PreferDualStack", "RequireDualStack", "SingleStack"',
        ),
    ]


def test_traffic_policies() -> None:
    obj = svc(
        {
            **BASIC,
            "type": "NodePort",
            "externalTrafficPolicy": "Global",
            "internalTrafficPolicy": "Nearest",
        }
    )
    assert pairs(obj) == [
        (
            "spec.externalTrafficPolicy",
            'Unsupported value: "Global": supported values: "Cluster", "Local"',
        ),
        (
            "spec.internalTrafficPolicy",
            'Unsupported value: "Nearest": supported values: "Cluster", "Local"',
        ),
    ]
    cip = svc(BASIC)
    cip["spec"]["externalTrafficPolicy"] = "Local"
    assert pairs(cip) == [
        (
            "spec.externalTrafficPolicy",
            'Invalid value: "Local": may only be set for externally-accessible services',
        )
    ]


def test_allocate_lb_node_ports_only_for_lb() -> None:
    obj = svc({**BASIC, "allocateLoadBalancerNodePorts": False})
    assert pairs(obj) == [
        (
            "spec.allocateLoadBalancerNodePorts",
            "Forbidden: may only be used when `type` is 'LoadBalancer'",
        )
    ]


def test_health_check_node_port() -> None:
    obj = svc({**BASIC, "type": "LoadBalancer", "externalTrafficPolicy": "Local"})
    # Allocator-owned: not required before allocation, required after it.
    assert pairs(obj) == []
    assert [(c.field, c.message) for c in validate_allocated("services", obj)] == [
        ("spec.healthCheckNodePort", "Required value")
    ]
    obj["spec"]["healthCheckNodePort"] = 31000
    assert pairs(obj) == []
    assert validate_allocated("services", obj) == []
    obj["spec"]["healthCheckNodePort"] = 70000
    assert pairs(obj) == [
        ("spec.healthCheckNodePort", "Invalid value: 70000: must be between 1 and 65535, inclusive")
    ]
    cip = svc({**BASIC, "healthCheckNodePort": 31000})
    assert pairs(cip)[0][0] == "spec.healthCheckNodePort"


def test_undefaulted_service_reports_required_fields() -> None:
    raw = {
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]},
    }
    assert pairs(raw) == [
        ("spec.sessionAffinity", "Required value"),
        ("spec.type", "Required value"),
    ]


def test_validation_does_not_mutate_input() -> None:
    obj = svc({**BASIC, "clusterIP": "10.96.0.20"})
    before = copy.deepcopy(obj)
    validate_create("services", obj)
    assert obj == before


@pytest.mark.parametrize(
    "spec",
    [
        {
            "type": "ClusterIP",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
        {
            "type": "NodePort",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}],
        },
        {
            "type": "LoadBalancer",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
        {"type": "ExternalName", "externalName": "my.external-database.com"},
        {
            "selector": {"app": "my-app"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ],
        },
    ],
)
def test_seed_examples_are_valid(spec: dict[str, Any]) -> None:
    obj = svc(spec, name="my-app-service")
    assert pairs(obj) == []
    finish_service_defaults(obj)
    assert pairs(obj) == []


def test_cluster_ips_one_per_family() -> None:
    obj = svc({**BASIC, "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "10.0.0.2"]})
    assert pairs(obj) == [
        (
            "spec.clusterIPs",
            'Invalid value: []string{"10.0.0.1", "10.0.0.2"}: may specify no more than one IP '
            "for each IP family",
        )
    ]
    dual = svc(
        {
            **BASIC,
            "clusterIP": "10.0.0.1",
            "clusterIPs": ["10.0.0.1", "fd00::1"],
            "ipFamilies": ["IPv4", "IPv6"],
            "ipFamilyPolicy": "PreferDualStack",
        }
    )
    assert pairs(dual) == []
    swapped = svc(
        {
            **BASIC,
            "clusterIP": "10.0.0.1",
            "clusterIPs": ["10.0.0.1", "fd00::1"],
            "ipFamilies": ["IPv6", "IPv4"],
        }
    )
    assert [f for f, _ in pairs(swapped)] == ["spec.clusterIPs[0]", "spec.clusterIPs[1]"]
    headless = svc({**BASIC, "clusterIP": "None", "clusterIPs": ["None", "10.0.0.1"]})
    assert pairs(headless) == [
        (
            "spec.clusterIPs",
            'Invalid value: []string{"None", "10.0.0.1"}: \'None\' must be the first and only '
            "value",
        )
    ]
