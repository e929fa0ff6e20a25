"""A small HTTPS API server of our own for HttpClient tests (not the real apiserver).

It stores objects per collection path, answers errors with metav1.Status bodies as
kube-apiserver does, records every request, and serves a scripted chunked watch stream.
TLS uses a throwaway CA generated per session with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubesvc.client.kubeconfig import write_kubeconfig

TOKEN = "s3cret-token"
_PATH = re.compile(
    r"^(?P<coll>/api/v1(?:/namespaces/[^/]+)?/[^/]+|/apis/[^/]+/[^/]+(?:/namespaces/[^/]+)?/[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)


@dataclass
class Tls:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def tls() -> Tls:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = _cert("test-ca", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("kube-apiserver", key, ca_name, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    return Tls(
        ca_pem=ca.public_bytes(pem),
        cert_pem=cert.public_bytes(pem),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
    )


def status(code: int, reason: str, message: str, **details: Any) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any


@dataclass
class FakeApi:
    """The server's state: objects by collection path, a request log, a resourceVersion."""

    url: str = ""
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    rv: int = 10

    def bump(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return obj

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = orjson.loads(raw) if raw else None
        self.requests.append(Recorded(request.method, request.path, dict(request.query),
                                      request.content_type if raw else "", body))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return status(401, "Unauthorized", "Unauthorized")
        m = _PATH.match(request.path)
        if m is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        coll, name, sub = m["coll"], m["name"], m["sub"]
        items = self.objects.setdefault(coll, {})
        plural = coll.rsplit("/", 1)[1]
        if request.method == "GET" and name is None:
            if request.query.get("watch") == "true":
                return await self.watch(request)
            listed = [items[k] for k in sorted(items)]
            limit = int(request.query.get("limit", "0"))
            meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
            if limit and len(listed) > limit:
                listed, meta["continue"] = listed[:limit], "next-page"
            return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": meta,
                                      "items": listed}, dumps=lambda o: orjson.dumps(o).decode())
        if request.method == "POST" and name is None:
            new = body["metadata"]["name"]
            if new in items:
                return status(409, "AlreadyExists", f'{plural} "{new}" already exists',
                              name=new, kind=plural)
            if request.query.get("dryRun") != "All":
                items[new] = self.bump(body)
            return web.json_response(body, status=201)
        if name is None or name not in items:
            return status(404, "NotFound", f'{plural} "{name}" not found', name=name,
                          kind=plural)
        cur = items[name]
        if request.method == "GET":
            return web.json_response(cur)
        if request.method == "PUT":
            want = body.get("metadata", {}).get("resourceVersion")
            if want and want != cur["metadata"]["resourceVersion"]:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {plural} '
                              f'"{name}": the object has been modified', name=name, kind=plural)
            if sub:
                cur[sub] = body.get(sub)
                body = cur
            items[name] = self.bump(body)
            return web.json_response(items[name])
        if request.method == "PATCH":
            if request.content_type == "application/json-patch+json":
                return status(422, "Invalid", f'{plural} "{name}" is invalid: spec: Invalid',
                              name=name, kind=plural,
                              causes=[{"reason": "FieldValueInvalid", "message": "Invalid",
                                       "field": "spec"}])
            merged = {**cur, **body}
            items[name] = self.bump(merged)
            return web.json_response(merged)
        if request.method == "DELETE":
            return web.json_response(items.pop(name))
        return status(405, "MethodNotAllowed", "method not allowed")

    async def watch(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if request.query.get("resourceVersion") == "1":
            gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "too old resource version: 1 (10)", "reason": "Expired",
                    "code": 410}
            await resp.write(orjson.dumps({"type": "ERROR", "object": gone}) + b"\n")
            return resp
        svc: dict[str, Any] = {"kind": "Service", "apiVersion": "v1",
               "metadata": {"name": "a", "namespace": "default", "resourceVersion": "11"}}
        added = orjson.dumps({"type": "ADDED", "object": svc}) + b"\n"
        big = dict(svc, metadata=dict(svc["metadata"], resourceVersion="12",
                                      annotations={"big": "x" * 200_000}))
        modified = orjson.dumps({"type": "MODIFIED", "object": big}) + b"\n"
        bookmark = orjson.dumps({"type": "BOOKMARK", "object": {
            "kind": "Service", "apiVersion": "v1", "metadata": {"resourceVersion": "13"}}})
        await resp.write(added + modified[:100])  # a line split across chunks
        await asyncio.sleep(0.01)
        await resp.write(modified[100:] + bookmark[:5])
        await asyncio.sleep(0.01)
        await resp.write(bookmark[5:] + b"\n")
        return resp


@pytest.fixture
async def api(tls: Tls, tmp_path: Path) -> AsyncIterator[FakeApi]:
    (tmp_path / "tls.crt").write_bytes(tls.cert_pem)
    (tmp_path / "tls.key").write_bytes(tls.key_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    fake = FakeApi()
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"https://{host}:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def kubeconfig(api: FakeApi, tls: Tls, tmp_path: Path) -> Path:
    path = tmp_path / "kube" / "config"
    write_kubeconfig(path, server=api.url, ca_pem=tls.ca_pem, token=TOKEN)
    return path
