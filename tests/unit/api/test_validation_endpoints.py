"""Endpoints and EndpointSlice validation."""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create, validate_update


def pairs(key: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate_create(key, obj)]


def endpoints(subsets: list[dict[str, Any]]) -> dict[str, Any]:
    obj = {"metadata": {"name": "web", "namespace": "default"}, "subsets": subsets}
    apply_defaults("endpoints", obj)
    return obj


def test_valid_endpoints() -> None:
    obj = endpoints(
        [
            {
                "addresses": [{"ip": "10.244.0.5", "nodeName": "node-1"}],
                "notReadyAddresses": [{"ip": "10.244.0.6"}],
                "ports": [{"name": "http", "port": 8080}],
            }
        ]
    )
    assert pairs("endpoints", obj) == []


def test_endpoints_rules() -> None:
    obj = endpoints(
        [
            {"ports": [{"port": 80}]},
            {
                "addresses": [{"ip": "127.0.0.1"}, {"ip": "bogus"}],
                "ports": [{"port": 80}, {"name": "b", "port": 0}],
            },
        ]
    )
    assert pairs("endpoints", obj) == [
        ("subsets[0]", "Required value: must specify `addresses` or `notReadyAddresses`"),
        (
            "subsets[1].addresses[0].ip",
            'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        ),
        (
            "subsets[1].addresses[1].ip",
            'Invalid value: "bogus": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        ),
        ("subsets[1].addresses[1].ip", 'Invalid value: "bogus": must be a valid IP address'),
        ("subsets[1].ports[0].name", "Required value"),
        ("subsets[1].ports[1].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
    ]


def eps(**kw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "web-abc", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "nodeName": "n1"}
        ],
        "ports": [{"name": "http", "port": 8080}],
    }
    obj.update(kw)
    apply_defaults("endpointslices.discovery.k8s.io", obj)
    return obj


def test_valid_slice() -> None:
    assert pairs("endpointslices.discovery.k8s.io", eps()) == []


def test_address_type() -> None:
    assert pairs("endpointslices.discovery.k8s.io", eps(addressType="IP")) == [
        ("addressType", 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"')
    ]
    assert pairs("endpointslices.discovery.k8s.io", eps(addressType="")) == [
        ("addressType", "Required value")
    ]


def test_slice_addresses_match_type() -> None:
    obj = eps(endpoints=[{"addresses": ["2001:db8::1"]}, {"addresses": []}])
    assert pairs("endpointslices.discovery.k8s.io", obj) == [
        ("endpoints[0].addresses[0]", 'Invalid value: "2001:db8::1": must be a valid IPv4 address'),
        ("endpoints[1].addresses", "Required value: must contain at least 1 address"),
    ]
    fq = eps(
        addressType="FQDN", endpoints=[{"addresses": ["db.example.com"]}, {"addresses": ["db"]}]
    )
    assert pairs("endpointslices.discovery.k8s.io", fq) == [
        (
            "endpoints[1].addresses[0]",
            'Invalid value: "db": should be a domain with at least two segments separated by dots',
        )
    ]


def test_slice_limits() -> None:
    many = eps(endpoints=[{"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"]} for i in range(1001)])
    assert pairs("endpointslices.discovery.k8s.io", many) == [
        ("endpoints", "Too many: 1001: must have at most 1000 items")
    ]
    ok = eps(endpoints=[{"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"]} for i in range(1000)])
    assert pairs("endpointslices.discovery.k8s.io", ok) == []


def test_slice_ports() -> None:
    obj = eps(
        ports=[
            {"name": "http", "port": 80},
            {"name": "http", "port": 81},
            {"name": "x", "protocol": "ICMP"},
        ]
    )
    assert pairs("endpointslices.discovery.k8s.io", obj) == [
        ("ports[1].name", 'Duplicate value: "http"'),
        ("ports[2].protocol", 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'),
    ]


def test_slice_address_type_immutable() -> None:
    old = eps()
    old["metadata"]["resourceVersion"] = "3"
    new = copy.deepcopy(old)
    new["addressType"] = "IPv6"
    new["endpoints"] = [{"addresses": ["2001:db8::5"]}]
    got = [
        (c.field, c.message) for c in validate_update("endpointslices.discovery.k8s.io", new, old)
    ]
    assert got == [("addressType", 'Invalid value: "IPv6": field is immutable')]
