"""The conformance suite's small e2e framework: a plain-dict REST client for the cluster's
API (from its kubeconfig), pod and Service builders shaped like upstream's e2e helpers
(``NewAgnhostPod``, the service test jig, ``validateEndpointsPortsOrFail``), and probes that
reach Services from the node the way upstream's exec pod does.

Used by the ``test_*.py`` modules here and by ``conftest.py``. Calls only the standard library
(``http.client``, ``ssl``, ``socket``), PyYAML and dnspython - never kubesvc itself, so the
suite judges kubesvc from the outside exactly as ``kubectl`` would.

In host mode every pod is a process on this machine bound to its own 127.x pod IP, so the
test process stands where upstream's exec pod stands (same network namespace as the pods);
where a case needs something only a pod's own namespace has, the case says so.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urlparse

import yaml

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
T = TypeVar("T")


class ApiError(Exception):
    """A non-2xx answer from the API server, with its Status body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        super().__init__(f"HTTP {status}: {self.body.get('reason', '')}: "
                         f"{self.body.get('message', body)}")

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", ""))


class Api:
    """JSON over HTTPS with the kubeconfig's bearer token; objects stay plain dicts."""

    def __init__(self, kubeconfig: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        url = urlparse(cluster["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ctx = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
            self.ctx.load_verify_locations(cadata=pem)
        elif cluster.get("certificate-authority"):
            self.ctx.load_verify_locations(cafile=cluster["certificate-authority"])
        self.token = str(user.get("token", ""))

    def _conn(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, *,
                query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float = 15) -> Any:
        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        conn = self._conn(timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"message": raw.decode(errors="replace")}
        if resp.status >= 300:
            raise ApiError(resp.status, parsed)
        return parsed

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query or None)

    def list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        return list(self.get(path, **query).get("items") or [])

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        return self.request("POST", path, obj)

    def update(self, path: str, obj: dict[str, Any]) -> Any:
        return self.request("PUT", path, obj)

    def patch(self, path: str, patch: Any, *, kind: str = "merge") -> Any:
        ctype = {"merge": "application/merge-patch+json",
                 "strategic": "application/strategic-merge-patch+json",
                 "json": "application/json-patch+json"}[kind]
        return self.request("PATCH", path, patch, content_type=ctype)

    def delete(self, path: str, **query: Any) -> Any:
        return self.request("DELETE", path, query=query or None)

    def watch(self, path: str, *, resource_version: str, label_selector: str = "",
              timeout: float = 20) -> Iterator[dict[str, Any]]:
        """Yield watch events (``{"type", "object"}``) until ``timeout`` passes; a silent
        stream ends the iteration (socket timeout) rather than hanging the suite."""
        query = {"watch": "true", "resourceVersion": resource_version,
                 "timeoutSeconds": int(timeout)}
        if label_selector:
            query["labelSelector"] = label_selector
        conn = self._conn(timeout)
        conn.request("GET", f"{path}?{urlencode(query)}",
                     headers={"Authorization": f"Bearer {self.token}"})
        resp = conn.getresponse()
        if resp.status >= 300:
            body = resp.read()
            conn.close()
            raise ApiError(resp.status, json.loads(body or b"{}"))
        buf = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    chunk = resp.read1(65536)
                except TimeoutError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            conn.close()


# -- paths ---------------------------------------------------------------------------

def core(ns: str | None, resource: str, name: str = "", sub: str = "") -> str:
    base = "/api/v1" + (f"/namespaces/{ns}" if ns else "") + f"/{resource}"
    return base + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def discovery(ns: str | None, name: str = "") -> str:
    base = "/apis/discovery.k8s.io/v1" + (f"/namespaces/{ns}" if ns else "") + "/endpointslices"
    return base + (f"/{name}" if name else "")


# -- waiting -------------------------------------------------------------------------

def poll(pred: Callable[[], T], *, timeout: float = 20, interval: float = 0.2,
         what: str = "") -> T:
    """Call ``pred`` until it returns something truthy; AssertionErrors and ApiErrors count
    as "not yet". On timeout, fail with the last value or error."""
    end = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = pred()
        except (AssertionError, ApiError, OSError) as exc:
            last = exc
        else:
            if last:
                return cast(T, last)
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for "
                                 f"{what or pred}: last={last!r}")
        time.sleep(interval)


# -- objects -------------------------------------------------------------------------

def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def agnhost_pod(name: str, *args: str, labels: dict[str, str] | None = None,
                ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """Upstream's ``e2epod.NewAgnhostPod``: one agnhost container with ``args`` (``pause``
    when none)."""
    container: dict[str, Any] = {"name": "agnhost-container", "image": AGNHOST,
                                 "args": list(args) or ["pause"]}
    if ports:
        container["ports"] = ports
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec}}


def is_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_ready(api: Api, ns: str, name: str) -> bool:
    return is_ready(api.get(core(ns, "pods", name)))


def create_pod_sync(api: Api, ns: str, pod: dict[str, Any], *,
                    timeout: float = 30) -> dict[str, Any]:
    """Create ``pod`` and wait until it is Ready with an IP (``PodClient.CreateSync``)."""
    name = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)

    def ready() -> dict[str, Any] | None:
        p = api.get(core(ns, "pods", name))
        return p if is_ready(p) and (p.get("status") or {}).get("podIP") else None

    got = poll(ready, timeout=timeout, what=f"pod {ns}/{name} Ready with an IP")
    assert got is not None
    return got


def delete_pod_and_wait(api: Api, ns: str, name: str, *, timeout: float = 20) -> None:
    """``e2epod.DeletePodOrFail`` plus waiting until the pod object is gone."""
    api.delete(core(ns, "pods", name))

    def gone() -> bool:
        try:
            api.get(core(ns, "pods", name))
        except ApiError as exc:
            return exc.status == 404
        return False

    poll(gone, timeout=timeout, what=f"pod {ns}/{name} deleted")


def service(name: str, *, ports: list[dict[str, Any]],
            selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": ports, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def serve_hostname_pods(api: Api, ns: str, name: str, replicas: int, *,
                        labels: dict[str, str] | None = None,
                        port: int = 9376) -> list[str]:
    """The pods ``StartServeHostnameService`` / ``jig.CreateServicePods`` run (upstream uses a
    ReplicationController; bare pods keep the case independent of workload controllers)."""
    names = [f"{name}-{i}" for i in range(replicas)]
    for pod_name in names:
        api.create(core(ns, "pods"), agnhost_pod(
            pod_name, "serve-hostname", f"--port={port}", labels=labels or {"name": name},
            ports=[{"containerPort": port}]))
    for pod_name in names:
        poll(partial(pod_ready, api, ns, pod_name), timeout=30,
             what=f"pod {ns}/{pod_name} Ready")
    return sorted(names)


def update_service(api: Api, ns: str, name: str,
                   mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Get, mutate, PUT; retried on Conflict (``e2eservice.UpdateService``)."""
    for _ in range(5):
        svc = api.get(core(ns, "services", name))
        mutate(svc)
        try:
            return dict(api.update(core(ns, "services", name), svc))
        except ApiError as exc:
            if exc.status != 409:
                raise
    raise AssertionError(f"service {ns}/{name}: too many update conflicts")


def node_internal_ip(api: Api) -> str:
    nodes = api.list(core(None, "nodes"))
    assert nodes, "no Node objects"
    for addr in (nodes[0].get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr["address"])
    raise AssertionError(f"node {nodes[0]['metadata']['name']} has no InternalIP")


def two_port_service(api: Api, ns: str) -> dict[str, Any]:
    """A selector-less Service with ports port80 (80) and port81 (81)."""
    return dict(api.create(core(ns, "services"), service(
        "example-custom-endpoints",
        ports=[{"name": "port80", "port": 80, "protocol": "TCP"},
               {"name": "port81", "port": 81, "protocol": "TCP"}])))


def netexec_pod(name: str, *ports: int) -> dict[str, Any]:
    """``NewAgnhostPodFromContainers`` with one netexec container per port."""
    pod = agnhost_pod(name)
    pod["spec"]["containers"] = [
        {"name": f"container-handle-{p}-request", "image": AGNHOST,
         "args": ["netexec", "--http-port", str(p), "--udp-port", "-1"],
         "ports": [{"containerPort": p, "protocol": "TCP"}]} for p in ports]
    return pod


# -- endpoints validation (validateEndpointsPortsOrFail) -----------------------------

def _ports_by_uid_from_endpoints(ep: dict[str, Any]) -> dict[str, list[int]]:
    """``e2eendpoints.GetContainerPortsByPodUID``: per ready address, its subset's ports
    (an address in a subset without ports counts for nothing, as upstream's loop)."""
    out: dict[str, list[int]] = {}
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or []:
            for addr in subset.get("addresses") or []:
                uid = ((addr.get("targetRef") or {}).get("uid")) or ""
                out.setdefault(uid, []).append(int(port["port"]))
    return {k: sorted(v) for k, v in out.items()}


def _ports_by_uid_from_slices(slices: list[dict[str, Any]]) -> dict[str, list[int]]:
    """``e2eendpointslice.GetContainerPortsByPodUID``: per endpoint, its slice's ports."""
    out: dict[str, list[int]] = {}
    for sl in slices:
        for port in sl.get("ports") or []:
            if port.get("port") is None:
                continue
            for ep in sl.get("endpoints") or []:
                uid = ((ep.get("targetRef") or {}).get("uid")) or ""
                out.setdefault(uid, []).append(int(port["port"]))
    return {k: sorted(v) for k, v in out.items()}


def validate_endpoints_ports(api: Api, ns: str, svc: str, expected: dict[str, list[int]],
                             *, timeout: float = 20) -> None:
    """Both the Endpoints object and the Service's EndpointSlices list exactly the pods in
    ``expected`` (by UID, from each address's targetRef) with exactly those ports."""
    want = {api.get(core(ns, "pods", name))["metadata"]["uid"]: sorted(ports)
            for name, ports in expected.items()}

    def check() -> bool:
        ep = api.get(core(ns, "endpoints", svc))
        got = _ports_by_uid_from_endpoints(ep)
        assert got == want, f"Endpoints {ns}/{svc}: {got} != {want}"
        slices = api.list(discovery(ns), labelSelector=f"kubernetes.io/service-name={svc}")
        got = _ports_by_uid_from_slices(slices)
        assert got == want, f"EndpointSlices of {ns}/{svc}: {got} != {want}"
        return True

    poll(check, timeout=timeout, what=f"endpoints of {ns}/{svc} = {expected}")


# -- data-plane probes from the node -------------------------------------------------

def http_get(host: str, port: int, path: str = "/", *, timeout: float = 2) -> tuple[int, str]:
    """One request on a fresh connection (``httpGetNoConnectionPoolTimeout``)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def hostname_via(host: str, port: int, *, path: str = "/hostname", timeout: float = 2) -> str:
    status, body = http_get(host, port, path, timeout=timeout)
    assert status == 200, f"GET http://{host}:{port}{path} -> {status} {body!r}"
    assert body.strip(), f"GET http://{host}:{port}{path} returned an empty body"
    return body.strip()


def udp_request(host: str, port: int, payload: str, *, timeout: float = 2) -> str | None:
    """Send one datagram, return the answer, or None on timeout / ICMP refusal."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            s.send(payload.encode())
            return s.recv(65535).decode(errors="replace")
        except (TimeoutError, ConnectionRefusedError):
            return None


def tcp_connect_result(host: str, port: int, *, timeout: float = 3) -> str:
    """"ok", "REFUSED" or "TIMEOUT" - the words ``agnhost connect`` reports."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "ok"
    except ConnectionRefusedError:
        return "REFUSED"
    except TimeoutError:
        return "TIMEOUT"
    except OSError as exc:
        return f"ERROR {exc}"


def reachable_http(host: str, port: int, *, path: str = "/hostname",
                   timeout: float = 20) -> str:
    return poll(lambda: hostname_via(host, port, path=path), timeout=timeout,
                what=f"http://{host}:{port}{path} to answer")


def hostnames_seen(host: str, port: int, count: int, *, path: str = "/") -> list[str]:
    out = []
    for _ in range(count):
        try:
            out.append(hostname_via(host, port, path=path))
        except (AssertionError, OSError):
            continue
    return out
