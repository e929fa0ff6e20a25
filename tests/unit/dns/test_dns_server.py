"""Cluster DNS over real UDP/TCP sockets on 127.0.0.1, fed by informers over a FakeClient,
queried with dnspython: every record kind CoreDNS's kubernetes plugin serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kubesvc.dns.records import RecordBook
from kubesvc.dns.server import DnsServer
from kubesvc.dns.source import DnsSource
from kubesvc.informers import Informer
from tests.fakes.client import FakeClient

ZONE = "cluster.local"


def service(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def eslice(svc: str, name: str, endpoints: list[dict[str, Any]], ports: list[dict[str, Any]],
           ns: str = "default") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


@dataclass
class Env:
    client: FakeClient
    server: DnsServer
    book: RecordBook

    async def q(self, name: str, rtype: str, *, tcp: bool = False) -> dns.message.Message:
        msg = dns.message.make_query(name, rtype)
        fn = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
        return await fn(msg, "127.0.0.1", port=self.server.port, timeout=2)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    client = FakeClient()
    for ns in ("default", "kube-system", "other"):
        await client.create("namespaces", {"metadata": {"name": ns}})
    await client.create("services", service(
        "my-app-service", type="ClusterIP", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"],
        ports=[{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
               {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]))
    await client.create("services", service(
        "ext", type="ExternalName", externalName="my.external-database.com"))
    await client.create("services", service(
        "headless", clusterIP="None", clusterIPs=["None"],
        ports=[{"name": "web", "port": 80, "protocol": "TCP"}]))
    await client.create("endpointslices.discovery.k8s.io", eslice(
        "headless", "headless-abc",
        [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}, "hostname": "web-0"},
         {"addresses": ["10.244.0.6"], "conditions": {"ready": True}},
         {"addresses": ["10.244.0.7"], "conditions": {"ready": False}}],
        [{"name": "web", "port": 8080, "protocol": "TCP"}]))
    await client.create("services", service("empty-headless", clusterIP="None", ports=[]))
    infs = {r: Informer(client, r) for r in
            ("services", "endpointslices.discovery.k8s.io", "namespaces")}
    book = RecordBook(zone=ZONE, dns_ip="10.96.0.10")
    src = DnsSource(book, services=infs["services"],
                    slices=infs["endpointslices.discovery.k8s.io"],
                    namespaces=infs["namespaces"])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(i.run(stop)) for i in infs.values()]
    server = DnsServer(book, host="127.0.0.1", port=0, ready=src.synced)
    await server.start()
    for i in infs.values():
        await i.wait_synced()
    try:
        yield Env(client, server, book)
    finally:
        await server.stop()
        stop.set()
        await asyncio.gather(*tasks)


def texts(m: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in m.answer for rd in rrset)


async def test_clusterip_a_record_udp_and_tcp(env: Env) -> None:
    for tcp in (False, True):
        r = await env.q("my-app-service.default.svc.cluster.local", "A", tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert texts(r) == ["10.96.0.20"]
        assert r.flags & dns.flags.AA
        assert r.answer[0].ttl == 5


async def test_names_are_case_insensitive_and_question_echoed(env: Env) -> None:
    r = await env.q("My-App-Service.Default.SVC.cluster.local", "A")
    assert texts(r) == ["10.96.0.20"]
    assert r.question[0].name.to_text() == "My-App-Service.Default.SVC.cluster.local."


async def test_aaaa_for_ipv4_service_is_nodata_with_soa(env: Env) -> None:
    r = await env.q("my-app-service.default.svc.cluster.local", "AAAA")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer == []
    assert r.authority[0].rdtype == dns.rdatatype.SOA


async def test_missing_service_is_nxdomain(env: Env) -> None:
    r = await env.q("nope.default.svc.cluster.local", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.authority[0].rdtype == dns.rdatatype.SOA


async def test_zone_svc_and_namespace_names_are_nodata(env: Env) -> None:
    for name in ("cluster.local", "svc.cluster.local", "default.svc.cluster.local"):
        r = await env.q(name, "A")
        assert r.rcode() == dns.rcode.NOERROR, name
        assert r.answer == []
    r = await env.q("nonamespace.svc.cluster.local", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_srv_multi_port_targets_service_with_additional_a(env: Env) -> None:
    r = await env.q("_http._tcp.my-app-service.default.svc.cluster.local", "SRV")
    assert texts(r) == ["0 100 80 my-app-service.default.svc.cluster.local."]
    assert [rd.to_text() for rrset in r.additional for rd in rrset] == ["10.96.0.20"]
    r = await env.q("_https._tcp.my-app-service.default.svc.cluster.local", "SRV")
    assert texts(r) == ["0 100 443 my-app-service.default.svc.cluster.local."]
    r = await env.q("my-app-service.default.svc.cluster.local", "SRV")
    assert texts(r) == ["0 50 443 my-app-service.default.svc.cluster.local.",
                        "0 50 80 my-app-service.default.svc.cluster.local."]


async def test_headless_answers_ready_endpoints_and_hostnames(env: Env) -> None:
    r = await env.q("headless.default.svc.cluster.local", "A")
    assert texts(r) == ["10.244.0.5", "10.244.0.6"]
    r = await env.q("web-0.headless.default.svc.cluster.local", "A")
    assert texts(r) == ["10.244.0.5"]
    r = await env.q("10-244-0-6.headless.default.svc.cluster.local", "A")
    assert texts(r) == ["10.244.0.6"]
    r = await env.q("_web._tcp.headless.default.svc.cluster.local", "SRV")
    assert texts(r) == [
        "0 50 8080 10-244-0-6.headless.default.svc.cluster.local.",
        "0 50 8080 web-0.headless.default.svc.cluster.local.",
    ]
    assert len(r.additional) == 2
    r = await env.q("empty-headless.default.svc.cluster.local", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_external_name_is_cname_without_srv(env: Env) -> None:
    r = await env.q("ext.default.svc.cluster.local", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer[0].rdtype == dns.rdatatype.CNAME
    assert texts(r) == ["my.external-database.com."]
    r = await env.q("_http._tcp.ext.default.svc.cluster.local", "SRV")
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_ptr_for_cluster_ip_and_endpoint(env: Env) -> None:
    r = await env.q("20.0.96.10.in-addr.arpa", "PTR")
    assert texts(r) == ["my-app-service.default.svc.cluster.local."]
    r = await env.q("5.0.244.10.in-addr.arpa", "PTR")
    assert texts(r) == ["web-0.headless.default.svc.cluster.local."]


async def test_pod_records_and_dns_version(env: Env) -> None:
    r = await env.q("10-244-1-9.default.pod.cluster.local", "A")
    assert texts(r) == ["10.244.1.9"]
    r = await env.q("10-244-1-9.nonamespace.pod.cluster.local", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    r = await env.q("dns-version.cluster.local", "TXT")
    assert texts(r) == ['"1.1.0"']


async def test_outside_zone_refused_without_upstream(env: Env) -> None:
    r = await env.q("example.com", "A")
    assert r.rcode() == dns.rcode.REFUSED


async def test_answers_follow_changes(env: Env) -> None:
    await env.client.create("services", service(
        "late", clusterIP="10.96.0.33", clusterIPs=["10.96.0.33"],
        ports=[{"port": 80, "protocol": "TCP"}]))
    for _ in range(100):
        r = await env.q("late.default.svc.cluster.local", "A")
        if r.rcode() == dns.rcode.NOERROR:
            break
        await asyncio.sleep(0.01)
    assert texts(r) == ["10.96.0.33"]
    await env.client.delete("services", "late")
    for _ in range(100):
        r = await env.q("late.default.svc.cluster.local", "A")
        if r.rcode() == dns.rcode.NXDOMAIN:
            break
        await asyncio.sleep(0.01)
    assert r.rcode() == dns.rcode.NXDOMAIN


async def test_truncation_over_udp_full_answer_over_tcp(env: Env) -> None:
    eps = [{"addresses": [f"10.244.{i // 200}.{i % 200 + 1}"], "conditions": {"ready": True}}
           for i in range(120)]
    await env.client.create("services", service("big", clusterIP="None", ports=[]))
    await env.client.create("endpointslices.discovery.k8s.io", eslice(
        "big", "big-1", eps, [{"port": 80, "protocol": "TCP"}]))
    await asyncio.sleep(0.05)
    r = await env.q("big.default.svc.cluster.local", "A")
    assert r.flags & dns.flags.TC
    r = await env.q("big.default.svc.cluster.local", "A", tcp=True)
    assert len(texts(r)) == 120


async def test_servfail_before_sync() -> None:
    book = RecordBook()
    server = DnsServer(book, host="127.0.0.1", port=0, ready=lambda: False)
    await server.start()
    try:
        r = await dns.asyncquery.udp(dns.message.make_query("x.default.svc.cluster.local", "A"),
                                     "127.0.0.1", port=server.port, timeout=2)
        assert r.rcode() == dns.rcode.SERVFAIL
    finally:
        await server.stop()


async def test_forwarding_to_upstream_fake() -> None:
    upstream_book = RecordBook(zone="example.com")
    from kubesvc.dns.records import ServiceView
    # A fake upstream resolver: another DnsServer serving zone example.com.
    upstream_book.set_service(ServiceView("ns", "www", "ClusterIP", ("127.0.0.9",), False, "",
                                          ()), [])
    up = DnsServer(upstream_book, host="127.0.0.1", port=0)
    await up.start()
    server = DnsServer(RecordBook(), host="127.0.0.1", port=0,
                       upstreams=(("127.0.0.1", up.port),))
    await server.start()
    try:
        for tcp in (False, True):
            fn = dns.asyncquery.tcp if tcp else dns.asyncquery.udp
            r = await fn(dns.message.make_query("www.ns.svc.example.com", "A"), "127.0.0.1",
                         port=server.port, timeout=3)
            assert texts(r) == ["127.0.0.9"]
    finally:
        await server.stop()
        await up.stop()


async def test_metrics_count_queries_under_corednss_names(env: Env) -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    name = "my-app-service.default.svc.cluster.local"
    for _ in range(3):  # the first is answered, the next two come from the reply cache
        await env.q(name, "A")
    await env.q(name, "A", tcp=True)
    await env.q("nothing.default.svc.cluster.local", "AAAA")
    text = generate_latest(env.server.metrics.registry).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    server = f"dns://127.0.0.1:{env.server.port}"

    def value(metric: str, **labels: str) -> float:
        return sum(v for (n, ls), v in samples.items()
                   if n == metric and labels.items() <= dict(ls).items())

    zone = "cluster.local."
    assert value("coredns_dns_requests_total", server=server, zone=zone, proto="udp",
                 family="1", type="A") == 3
    assert value("coredns_dns_requests_total", zone=zone, proto="tcp", type="A") == 1
    assert value("coredns_dns_requests_total", zone=zone, type="AAAA") == 1
    assert value("coredns_dns_responses_total", zone=zone, rcode="NOERROR",
                 plugin="kubernetes") == 4
    assert value("coredns_dns_responses_total", zone=zone, rcode="NXDOMAIN") == 1
    assert value("coredns_dns_request_duration_seconds_count", zone=zone, type="A") == 4
    assert value("coredns_dns_request_duration_seconds_bucket", zone=zone, type="A",
                 le="+Inf") == 4
    assert value("coredns_dns_response_size_bytes_count", proto="udp") == 4
    assert value("coredns_dns_request_size_bytes_sum", proto="tcp") > 0
    assert value("kubesvc_dns_requests_by_name_total", name=name, type="A") == 4
    # names that do not exist are not counted by name (a client could make them up)
    assert value("kubesvc_dns_requests_by_name_total",
                 name="nothing.default.svc.cluster.local") == 0
