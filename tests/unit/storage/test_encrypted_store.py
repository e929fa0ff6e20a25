"""EncryptedStore over the memory backend: values of configured resources are ciphertext
in the inner store and plain through the wrapper for every verb (create/update/get/list,
delete's previous value, watch events and their prev_kv); other keys pass through; CAS and
revisions are the backend's."""

from __future__ import annotations

import base64

import pytest

from kubesvc import errors
from kubesvc.storage.encrypted import EncryptedStore
from kubesvc.storage.encryption import parse_encryption_config
from kubesvc.storage.memory import MemoryStore

CONFIG = parse_encryption_config({
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets", "*.apps"], "providers": [
        {"secretbox": {"keys": [{"name": "sb", "secret": base64.b64encode(b"s" * 32).decode()}]}},
    ]}]})
SECRET = "/registry/core/secrets/ns/a"
DEPLOY = "/registry/apps/deployments/ns/d"
CM = "/registry/core/configmaps/ns/c"


async def test_every_verb_round_trips() -> None:
    inner = MemoryStore()
    store = EncryptedStore(inner, CONFIG)
    rev0 = await store.revision()
    w = await store.watch("/registry/", start_revision=rev0 + 1)
    kv = await store.create(SECRET, b"one")
    assert kv.value == b"one"
    await store.create(DEPLOY, b"dep")
    await store.create(CM, b"plain")
    for key in (SECRET, DEPLOY):
        raw = await inner.get(key)
        assert raw is not None and raw.value.startswith(b"k8s:enc:secretbox:v1:sb:")
    raw_cm = await inner.get(CM)
    assert raw_cm is not None and raw_cm.value == b"plain"
    with pytest.raises(errors.Conflict):
        await store.update(SECRET, b"two", expected_mod_revision=kv.mod_revision + 100)
    up = await store.update(SECRET, b"two", expected_mod_revision=kv.mod_revision)
    assert up.value == b"two" and (await store.get(SECRET)) == up
    listed = await store.list("/registry/core/", limit=1)
    assert [i.value for i in listed.items] == [b"plain"] and listed.more
    rest = await store.list("/registry/core/", start_after=CM)
    assert [i.value for i in rest.items] == [b"two"]
    prev = await store.delete(SECRET)
    assert prev.value == b"two"
    seen = []
    async for batch in w:
        seen.extend(batch)
        if len(seen) >= 5:
            break
    await w.close()
    assert [(e.type, e.kv.value, e.prev_kv.value if e.prev_kv else None) for e in seen] == [
        ("PUT", b"one", None), ("PUT", b"dep", None), ("PUT", b"plain", None),
        ("PUT", b"two", b"one"), ("DELETE", b"", b"two")]
    await store.close()
