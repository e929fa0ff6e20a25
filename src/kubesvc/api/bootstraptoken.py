"""Bootstrap tokens as Secrets (upstream ``k8s.io/cluster-bootstrap/token/api`` and
``.../util/secrets``): names, keys, the token format, and how a Secret says who its token
is and whether it has expired.

A token ``<id>.<secret>`` (6 + 16 characters of ``[a-z0-9]``) lives in the Secret
``kube-system/bootstrap-token-<id>`` of type ``bootstrap.kubernetes.io/token`` whose data
holds ``token-id``, ``token-secret``, ``usage-bootstrap-authentication: "true"``, an
optional RFC 3339 ``expiration`` and ``auth-extra-groups``. No I/O: the API server's
bootstrap authenticator, the TokenCleaner controller and ``kubesvc token create`` call it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from kubesvc.api import timefmt

NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
KEY_ID = "token-id"
KEY_SECRET = "token-secret"
KEY_EXPIRATION = "expiration"
KEY_EXTRA_GROUPS = "auth-extra-groups"
KEY_DESCRIPTION = "description"
USAGE_AUTHENTICATION = "usage-bootstrap-authentication"
USAGE_SIGNING = "usage-bootstrap-signing"
USER_PREFIX = "system:bootstrap:"
GROUP = "system:bootstrappers"
# kubeadm's default extra group, spelled for kubesvc: agents joining with a token are in it.
DEFAULT_NODE_GROUP = "system:bootstrappers:kubesvc:default-node-token"

_TOKEN = re.compile(r"\A([a-z0-9]{6})\.([a-z0-9]{16})\Z")
_GROUP = re.compile(r"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\Z")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def parse_token(token: str) -> tuple[str, str] | None:
    """``(token_id, token_secret)``, or None when ``token`` is not a bootstrap token."""
    m = _TOKEN.match(token)
    return (m.group(1), m.group(2)) if m else None


def generate_token() -> str:
    """A fresh random ``<id>.<secret>``."""
    def pick(n: int) -> str:
        return "".join(secrets.choice(_ALPHABET) for _ in range(n))
    return f"{pick(6)}.{pick(16)}"


def secret_name(token_id: str) -> str:
    return SECRET_PREFIX + token_id


def token_secret(token: str, *, expires: datetime | None,
                 extra_groups: tuple[str, ...] = (DEFAULT_NODE_GROUP,),
                 description: str = "") -> dict[str, Any]:
    """The Secret that makes ``token`` valid (as ``kubeadm token create`` writes it)."""
    parsed = parse_token(token)
    if parsed is None:
        raise ValueError(f"{token!r} is not of the form [a-z0-9]{{6}}.[a-z0-9]{{16}}")
    token_id, token_sec = parsed
    for g in extra_groups:
        if not _GROUP.match(g):
            raise ValueError(f"{g!r} is not a valid bootstrap group name "
                             f"(it must match {_GROUP.pattern[2:-2]})")
    data = {KEY_ID: token_id, KEY_SECRET: token_sec, USAGE_AUTHENTICATION: "true",
            USAGE_SIGNING: "true"}
    if expires is not None:
        data[KEY_EXPIRATION] = timefmt.rfc3339(expires)
    if extra_groups:
        data[KEY_EXTRA_GROUPS] = ",".join(extra_groups)
    if description:
        data[KEY_DESCRIPTION] = description
    return {
        "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
        "metadata": {"name": secret_name(token_id), "namespace": NAMESPACE},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def get_data(secret: dict[str, Any], key: str) -> str:
    """``secret.data[key]`` decoded ("" when absent or not valid base64); ``stringData``
    counts too, as upstream merges it into ``data`` on write."""
    raw = (secret.get("data") or {}).get(key)
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
    plain = (secret.get("stringData") or {}).get(key)
    return plain if isinstance(plain, str) else ""


def expiration(secret: dict[str, Any]) -> datetime | None:
    """When the token expires; None when it never does. An unparsable ``expiration``
    counts as already expired (upstream refuses such a token too)."""
    raw = get_data(secret, KEY_EXPIRATION)
    if not raw:
        return None
    t = timefmt.parse_time(raw)
    return t if t is not None else datetime.min.replace(tzinfo=UTC)


def has_expired(secret: dict[str, Any], now: datetime) -> bool:
    exp = expiration(secret)
    return exp is not None and now >= exp


def groups(secret: dict[str, Any]) -> tuple[str, ...] | None:
    """``system:bootstrappers`` plus the valid ``auth-extra-groups`` (deduplicated, in
    order); None when an extra group is not a valid bootstrap group name."""
    out = [GROUP]
    for g in get_data(secret, KEY_EXTRA_GROUPS).split(","):
        g = g.strip()
        if not g:
            continue
        if not _GROUP.match(g):
            return None
        if g not in out:
            out.append(g)
    return tuple(out)
