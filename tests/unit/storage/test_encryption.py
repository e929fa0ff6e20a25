"""Encryption at rest: EncryptionConfiguration parsing (errors name the field), each
provider round-trips with upstream's ``k8s:enc:<provider>:v1:<key>:`` prefix, the first
provider writes and all read (key rotation), identity reads plaintext; the EncryptedStore
wrapper over the real sqlite backend keeps Secrets' raw rows unreadable while the
Registry reads them back, in lists and watches too."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubesvc import errors
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.encryption import EncryptionConfigError, parse_encryption_config
from kubesvc.storage.factory import open_store

K1 = base64.b64encode(b"k" * 32).decode()
K2 = base64.b64encode(b"j" * 16).decode()
SECRET_KEY = b"/registry/core/secrets/default/s"


def cfg(*providers: dict[str, Any], resources: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": resources or ["secrets"],
                           "providers": list(providers)}]}


def keyed(kind: str, name: str, secret: str) -> dict[str, Any]:
    return {kind: {"keys": [{"name": name, "secret": secret}]}}


@pytest.mark.parametrize("kind", ["aesgcm", "aescbc", "secretbox"])
def test_provider_round_trip_and_prefix(kind: str) -> None:
    rule = parse_encryption_config(cfg(keyed(kind, "key1", K1))).rules[0]
    stored = rule.to_storage(SECRET_KEY, b'{"data":"hunter2"}')
    assert stored.startswith(f"k8s:enc:{kind}:v1:key1:".encode())
    assert b"hunter2" not in stored
    assert rule.from_storage(SECRET_KEY, stored) == b'{"data":"hunter2"}'
    assert rule.to_storage(SECRET_KEY, b"x") != rule.to_storage(SECRET_KEY, b"x")  # nonce


def test_aesgcm_binds_the_storage_key() -> None:
    rule = parse_encryption_config(cfg(keyed("aesgcm", "key1", K1))).rules[0]
    stored = rule.to_storage(SECRET_KEY, b"v")
    with pytest.raises(Exception, match="cannot decrypt"):
        rule.from_storage(b"/registry/core/secrets/default/other", stored)


def test_rotation_and_identity() -> None:
    old = parse_encryption_config(cfg(keyed("aescbc", "old", K2), {"identity": {}})).rules[0]
    plain = b'{"a":1}'
    assert old.from_storage(SECRET_KEY, plain) == plain  # written before encryption
    by_old = old.to_storage(SECRET_KEY, plain)
    new = parse_encryption_config(cfg(keyed("aesgcm", "new", K1), keyed("aescbc", "old", K2),
                                      {"identity": {}})).rules[0]
    assert new.from_storage(SECRET_KEY, by_old) == plain
    assert new.to_storage(SECRET_KEY, plain).startswith(b"k8s:enc:aesgcm:v1:new:")
    gone = parse_encryption_config(cfg(keyed("aesgcm", "new", K1))).rules[0]
    with pytest.raises(Exception, match="no matching prefix"):
        gone.from_storage(SECRET_KEY, by_old)
    with pytest.raises(Exception, match="no matching prefix"):
        gone.from_storage(SECRET_KEY, plain)  # no identity: plaintext is refused
    ident = parse_encryption_config(cfg({"identity": {}}, keyed("aescbc", "old", K2))).rules[0]
    assert ident.to_storage(SECRET_KEY, plain) == plain
    assert ident.from_storage(SECRET_KEY, by_old) == plain


@pytest.mark.parametrize(("doc", "field"), [
    ({"kind": "EncryptionConfiguration", "apiVersion": "v1"}, "kind/apiVersion"),
    (cfg(), "resources[0].providers: Required value"),
    (cfg({"aesgcm": {"keys": []}}), "resources[0].providers[0].aesgcm.keys: Required"),
    (cfg(keyed("aesgcm", "k", "not base64!")),
     "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": "
     "secrets must be base64 encoded"),
    (cfg(keyed("secretbox", "k", K2)),
     "resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": "
     "secret is not of the expected length, got 16, expected one of [32]"),
    (cfg({"identity": {}}, keyed("aescbc", "", K1)),
     "resources[0].providers[1].aescbc.keys[0].name: Required value"),
    (cfg({"identity": {}, "aesgcm": {}}), "more than one provider"),
    (cfg({"foo": {}}), "resources[0].providers[0]: Invalid value: provider does not"),
    (cfg({"kms": {"name": "x"}}), "resources[0].providers[0].kms: Unsupported value"),
    ({**cfg({"identity": {}}), "resources": [{"providers": [{"identity": {}}]}]},
     "resources[0].resources: Required value"),
])
def test_bad_config_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(EncryptionConfigError) as exc:
        parse_encryption_config(doc)
    assert field in str(exc.value)


def test_resource_matching() -> None:
    c = parse_encryption_config({**cfg({"identity": {}}), "resources": [
        {"resources": ["secrets", "deployments.apps"], "providers": [{"identity": {}}]},
        {"resources": ["*."], "providers": [keyed("aesgcm", "core", K1)]},
        {"resources": ["*.*"], "providers": [keyed("aesgcm", "all", K1)]}]})
    assert c.rule_for("", "secrets") is c.rules[0]
    assert c.rule_for("apps", "deployments") is c.rules[0]
    assert c.rule_for("", "configmaps") is c.rules[1]
    assert c.rule_for("apps", "replicasets") is c.rules[2]


async def test_sqlite_rows_encrypted_registry_reads_back(tmp_path: Path) -> None:
    conf = tmp_path / "enc.yaml"
    conf.write_bytes(orjson.dumps(cfg(keyed("aesgcm", "key1", K1), {"identity": {}})))
    db = tmp_path / "state.db"
    store = await open_store(f"sqlite://{db}", encryption_config=str(conf))
    reg = Registry(store, compact_interval=0)
    await reg.start()
    try:
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                  "data": {"password": base64.b64encode(b"hunter2-hunter2").decode()}}
        watch = reg.watch("secrets", namespace="default")
        await reg.create("secrets", secret, namespace="default")
        await reg.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "c"}, "data": {"k": "plainval"}},
                         namespace="default")
        got = await reg.get("secrets", "s", namespace="default")
        assert got["data"] == secret["data"]
        listed = await reg.list("secrets", namespace="default")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["s"]
        ev = await anext(aiter(watch))
        assert ev["type"] == "ADDED" and ev["object"]["data"] == secret["data"]
        await watch.aclose()  # type: ignore[attr-defined]
    finally:
        await reg.stop()
        await store.close()
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT h.key, h.value FROM live JOIN history h "
                             "ON h.rev = live.rev").fetchall())
    conn.close()
    raw_secret = rows["/registry/core/secrets/default/s"]
    assert raw_secret.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"hunter2" not in raw_secret and b"aHVudGVy" not in raw_secret
    assert b"plainval" in rows["/registry/core/configmaps/default/c"]  # not configured
    # Without the config the same data cannot be served as JSON.
    plain = await open_store(f"sqlite://{db}")
    try:
        kv = await plain.get("/registry/core/secrets/default/s")
        assert kv is not None and kv.value.startswith(b"k8s:enc:")
    finally:
        await plain.close()
    # A config missing the key answers an InternalError naming the key.
    conf.write_bytes(orjson.dumps(cfg(keyed("aesgcm", "other", K1))))
    other = await open_store(f"sqlite://{db}", encryption_config=str(conf))
    try:
        with pytest.raises(errors.InternalError, match="secrets/default/s"):
            await other.get("/registry/core/secrets/default/s")
    finally:
        await other.close()
