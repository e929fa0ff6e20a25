"""Encryption at rest: upstream's ``EncryptionConfiguration`` (``apiserver.config.k8s.io/v1``,
kube-apiserver's ``--encryption-provider-config``) parsed into value transformers.

Each ``resources[]`` entry names resources (``secrets``, ``deployments.apps``, ``*.apps``,
``*.`` for the core group, ``*.*``) and an ordered list of providers. The first provider
encrypts every write; reads try each provider whose prefix the stored value carries, so a
new key listed first with the old one after it rotates keys without rewriting anything.
Stored values look as upstream's: ``k8s:enc:<provider>:v1:<keyname>:`` then

- ``aesgcm``: a 12-byte random nonce and AES-GCM ciphertext+tag (the storage key as
  additional data, so a value cannot be moved to another key);
- ``aescbc``: a 16-byte random IV and AES-CBC ciphertext with PKCS#7 padding;
- ``secretbox``: a 24-byte random nonce and an XSalsa20-Poly1305 box (PyNaCl, as
  ``cryptography`` has no XSalsa20);
- ``identity``: the plain value, no prefix (reading an encrypted value through it fails).

A bad file raises :class:`EncryptionConfigError` naming the field, in upstream's words
(``resources[0].providers[0].aesgcm.keys[0].secret: ...``). Used by :mod:`.encrypted`
(the Store wrapper); no I/O beyond reading the file.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubesvc.storage.store import StoreOpenError

ENC_PREFIX = b"k8s:enc:"
PROVIDERS = ("aesgcm", "aescbc", "secretbox", "identity", "kms")
_KEY_SIZES = {"aesgcm": (16, 24, 32), "aescbc": (16, 24, 32), "secretbox": (32,)}


class EncryptionConfigError(StoreOpenError):
    """The encryption configuration file is unusable; the message names the field."""


class DecryptError(Exception):
    """A stored value cannot be decrypted with any configured provider."""


@dataclass(frozen=True, slots=True)
class Transformer:
    """One provider key: ``prefix`` on stored values, ``seal``/``open`` the rest of them
    (both take the storage key as context)."""

    prefix: bytes
    seal: Callable[[bytes, bytes], bytes]
    open: Callable[[bytes, bytes], bytes]
    identity: bool = False


@dataclass(frozen=True, slots=True)
class ResourceRule:
    resources: tuple[str, ...]
    transformers: tuple[Transformer, ...]

    def matches(self, group: str, resource: str) -> bool:
        for r in self.resources:
            name, dot, g = r.partition(".")
            if r == "*.*" or (name == "*" and dot and g == group) or (
                    name == resource and g == group):
                return True
        return False

    def to_storage(self, key: bytes, value: bytes) -> bytes:
        t = self.transformers[0]
        return t.seal(value, key) if t.identity else t.prefix + t.seal(value, key)

    def from_storage(self, key: bytes, value: bytes) -> bytes:
        for t in self.transformers:
            if t.identity:
                if not value.startswith(ENC_PREFIX):
                    return value
            elif value.startswith(t.prefix):
                try:
                    return t.open(value[len(t.prefix):], key)
                except (InvalidTag, ValueError) as exc:
                    raise DecryptError(f"{key.decode(errors='replace')}: cannot decrypt with "
                                       f"{t.prefix.decode()!r}: {exc or 'invalid tag'}") from exc
        raise DecryptError(f"{key.decode(errors='replace')}: no matching prefix found "
                           "among the configured encryption providers")


@dataclass(frozen=True, slots=True)
class EncryptionConfig:
    rules: tuple[ResourceRule, ...]

    def rule_for(self, group: str, resource: str) -> ResourceRule | None:
        """The first rule naming ``group``/``resource`` (core group is ``""``)."""
        for rule in self.rules:
            if rule.matches(group, resource):
                return rule
        return None


def load_encryption_config(path: Path) -> EncryptionConfig:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise EncryptionConfigError(f"cannot read encryption config {path}: "
                                    f"{exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise EncryptionConfigError(f"encryption config {path}: not YAML/JSON: {exc}") from exc
    try:
        return parse_encryption_config(doc)
    except EncryptionConfigError as exc:
        raise EncryptionConfigError(f"encryption config {path}: {exc}") from None


def parse_encryption_config(doc: Any) -> EncryptionConfig:
    if not isinstance(doc, dict):
        raise EncryptionConfigError("expected an EncryptionConfiguration object")
    if doc.get("kind") != "EncryptionConfiguration" or doc.get("apiVersion") not in (
            "apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1"):
        raise EncryptionConfigError(
            f"kind/apiVersion: Invalid value: {doc.get('kind')!r}/{doc.get('apiVersion')!r}: "
            "expected EncryptionConfiguration/apiserver.config.k8s.io/v1")
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        raise EncryptionConfigError(
            "resources: Required value: EncryptionConfiguration.Resources must contain at "
            "least one resource")
    return EncryptionConfig(tuple(_rule(e, f"resources[{i}]") for i, e in enumerate(entries)))


def _rule(entry: Any, path: str) -> ResourceRule:
    if not isinstance(entry, dict):
        raise EncryptionConfigError(f"{path}: Invalid value: expected an object")
    names = entry.get("resources")
    if not isinstance(names, list) or not names:
        raise EncryptionConfigError(f"{path}.resources: Required value: at least one "
                                    "resource must be specified")
    for j, n in enumerate(names):
        if not isinstance(n, str) or not n or n != n.lower():
            raise EncryptionConfigError(f"{path}.resources[{j}]: Invalid value: {n!r}: "
                                        "resource name must be lower case")
    providers = entry.get("providers")
    if not isinstance(providers, list) or not providers:
        raise EncryptionConfigError(f"{path}.providers: Required value: at least one "
                                    "provider must be specified")
    out: list[Transformer] = []
    for j, p in enumerate(providers):
        out.extend(_provider(p, f"{path}.providers[{j}]"))
    return ResourceRule(tuple(names), tuple(out))


def _provider(p: Any, path: str) -> Sequence[Transformer]:
    kinds = [k for k in PROVIDERS if isinstance(p, dict) and k in p]
    if not kinds:
        raise EncryptionConfigError(
            f"{path}: Invalid value: provider does not contain any of the expected "
            "providers: KMS, AESGCM, AESCBC, Secretbox, Identity")
    if len(kinds) > 1:
        raise EncryptionConfigError(f"{path}: Invalid value: more than one provider "
                                    "specified in a single element, should split into "
                                    "different list elements")
    kind = kinds[0]
    if kind == "kms":
        raise EncryptionConfigError(f"{path}.kms: Unsupported value: kubesvc has no KMS "
                                    "plugin client; use aesgcm, aescbc or secretbox")
    if kind == "identity":
        return [Transformer(b"", lambda v, _k: v, lambda v, _k: v, identity=True)]
    keys = (p[kind] or {}).get("keys") if isinstance(p[kind], dict) else None
    if not isinstance(keys, list) or not keys:
        raise EncryptionConfigError(f"{path}.{kind}.keys: Required value: at least one key "
                                    "must be specified")
    seen: set[str] = set()
    out = []
    for k, key in enumerate(keys):
        kpath = f"{path}.{kind}.keys[{k}]"
        name = key.get("name") if isinstance(key, dict) else None
        if not isinstance(name, str) or not name:
            raise EncryptionConfigError(f"{kpath}.name: Required value: key name is required")
        if ":" in name:
            raise EncryptionConfigError(f"{kpath}.name: Invalid value: {name!r}: key name "
                                        "must not contain ':'")
        if name in seen:
            raise EncryptionConfigError(f"{kpath}.name: Duplicate value: {name!r}")
        seen.add(name)
        secret = key.get("secret")
        if not isinstance(secret, str) or not secret:
            raise EncryptionConfigError(f"{kpath}.secret: Required value: secret is required")
        try:
            raw = base64.b64decode(secret, validate=True)
        except binascii.Error:
            raise EncryptionConfigError(f"{kpath}.secret: Invalid value: \"REDACTED\": "
                                        "secrets must be base64 encoded") from None
        if len(raw) not in _KEY_SIZES[kind]:
            raise EncryptionConfigError(
                f"{kpath}.secret: Invalid value: \"REDACTED\": secret is not of the expected "
                f"length, got {len(raw)}, expected one of {list(_KEY_SIZES[kind])}")
        prefix = f"k8s:enc:{kind}:v1:{name}:".encode()
        out.append(_CIPHERS[kind](prefix, raw, kpath))
    return out


def _aesgcm(prefix: bytes, key: bytes, _path: str) -> Transformer:
    aead = AESGCM(key)

    def seal(value: bytes, ctx: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + aead.encrypt(nonce, value, ctx)

    def open_(data: bytes, ctx: bytes) -> bytes:
        if len(data) < 12 + 16:
            raise ValueError("the stored data was shorter than the required size")
        return aead.decrypt(data[:12], data[12:], ctx)

    return Transformer(prefix, seal, open_)


def _aescbc(prefix: bytes, key: bytes, _path: str) -> Transformer:
    def seal(value: bytes, _ctx: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return iv + enc.update(padder.update(value) + padder.finalize()) + enc.finalize()

    def open_(data: bytes, _ctx: bytes) -> bytes:
        if len(data) < 32 or len(data) % 16:
            raise ValueError("the stored data is not a multiple of the block size")
        dec = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        padded = dec.update(data[16:]) + dec.finalize()
        return unpadder.update(padded) + unpadder.finalize()

    return Transformer(prefix, seal, open_)


def _secretbox(prefix: bytes, key: bytes, path: str) -> Transformer:
    try:
        from nacl.exceptions import CryptoError
        from nacl.secret import SecretBox
    except ImportError:
        raise EncryptionConfigError(f"{path}: the secretbox provider needs PyNaCl "
                                    "(pip install 'kubesvc[secretbox]')") from None
    box = SecretBox(key)

    def seal(value: bytes, _ctx: bytes) -> bytes:
        return bytes(box.encrypt(value, os.urandom(SecretBox.NONCE_SIZE)))

    def open_(data: bytes, _ctx: bytes) -> bytes:
        try:
            return bytes(box.decrypt(data))
        except CryptoError as exc:
            raise ValueError(str(exc)) from exc

    return Transformer(prefix, seal, open_)


_CIPHERS: dict[str, Callable[[bytes, bytes, str], Transformer]] = {
    "aesgcm": _aesgcm, "aescbc": _aescbc, "secretbox": _secretbox}
