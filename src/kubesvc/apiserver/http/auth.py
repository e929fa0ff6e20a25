"""Bearer-token authentication, as kube-apiserver's ``--token-auth-file``.

The tokens file is CSV, one ``token,user,uid,"group1,group2"`` per line (upstream's format).
On first start :meth:`TokenFile.load_or_create` writes an admin token for
``kubernetes-admin`` (group ``system:masters``); later starts reuse the file. The request
middleware in :mod:`.app` calls :meth:`TokenFile.authenticate` with the Authorization header.
A token the file does not know goes to :class:`BootstrapTokenAuthenticator` (upstream's
bootstrap token authenticator), which reads its ``kube-system/bootstrap-token-<id>`` Secret
from the Registry on each request, so a token created or deleted while the server runs
counts at once and an expired one is refused; then to the ServiceAccount JWT authenticator
(:mod:`.satoken`). A request with no bearer token at all is :data:`ANONYMOUS`
(``system:anonymous`` in ``system:unauthenticated``) when anonymous auth is on, and RBAC
decides what it may do (upstream's ``system:public-info-viewer`` allows the health and
version paths).
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]
    # upstream's user.Info extra: (key, values) pairs, e.g. a pod-bound ServiceAccount
    # token's authentication.kubernetes.io/pod-name
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}


#: The user of a request without credentials (upstream's anonymous authenticator).
ANONYMOUS = User("system:anonymous", "", ("system:unauthenticated",))


class TokenFile:
    """Static bearer tokens kept in a CSV file under the data dir."""

    ADMIN_USER = "kubernetes-admin"

    def __init__(self, path: Path, tokens: dict[str, User]) -> None:
        self.path = path
        self._tokens = tokens

    @classmethod
    def load_or_create(cls, path: Path) -> TokenFile:
        tokens: dict[str, User] = {}
        if path.exists():
            for row in csv.reader(io.StringIO(path.read_text())):
                if len(row) < 2 or not row[0].strip() or row[0].startswith("#"):
                    continue
                if row[1].startswith(bt.USER_PREFIX):
                    # Written by an older `kubesvc token create`, whose expiry lived beside
                    # the file: bootstrap tokens are Secrets now, so these no longer count.
                    log.warning("%s: ignoring the old bootstrap token of %s (create a new one "
                                "with `kubesvc token create`)", path, row[1])
                    continue
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[row[0].strip()] = User(row[1], row[2] if len(row) > 2 else "", groups)
        out = cls(path, tokens)
        if not tokens:
            out.issue(cls.ADMIN_USER, uid="kubernetes-admin", groups=("system:masters",))
        return out

    @property
    def admin_token(self) -> str:
        for token, user in self._tokens.items():
            if user.name == self.ADMIN_USER:
                return token
        raise LookupError("no admin token in " + str(self.path))

    def issue(self, user: str, *, uid: str = "", groups: tuple[str, ...] = ()) -> str:
        """Add a token for ``user`` and persist the file; returns the token."""
        token = secrets.token_urlsafe(32)
        self._tokens[token] = User(user, uid or user, groups)
        self._save()
        return token

    def _save(self) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for token, u in self._tokens.items():
            w.writerow([token, u.name, u.uid, ",".join(u.groups)])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(buf.getvalue())
        os.replace(tmp, self.path)

    def tokens(self) -> dict[str, User]:
        """A copy of the token table (token -> user)."""
        return dict(self._tokens)

    def replace(self, tokens: dict[str, User]) -> None:
        """Swap in a new token table in one assignment (request handlers only read it),
        e.g. after re-reading the file or dropping expired tokens. Not persisted."""
        self._tokens = dict(tokens)

    def authenticate(self, authorization: str | None) -> User | None:
        """The user for an ``Authorization: Bearer <token>`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._tokens.get(token.strip())


SecretGetter = Callable[[str, str], Awaitable[dict[str, Any]]]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class BootstrapTokenAuthenticator:
    """Bootstrap tokens (``<id>.<secret>``) checked against their Secret, read live through
    ``get_secret(namespace, name)`` (the Registry's get; raises NotFound), as upstream's
    ``plugin/pkg/auth/authenticator/token/bootstrap``: the Secret must be of type
    ``bootstrap.kubernetes.io/token``, not being deleted, hold the same ``token-id`` and
    ``token-secret``, be marked ``usage-bootstrap-authentication=true`` and not have
    expired. The user is ``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the
    Secret's ``auth-extra-groups``."""

    def __init__(self, get_secret: SecretGetter,
                 *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._get = get_secret
        self._clock = clock

    async def authenticate(self, authorization: str | None) -> User | None:
        token = bearer_token(authorization)
        parsed = bt.parse_token(token) if token else None
        if parsed is None:
            return None
        token_id, token_secret = parsed
        name = bt.secret_name(token_id)
        try:
            secret = await self._get(bt.NAMESPACE, name)
        except errors.NotFound:
            return None
        why = _refusal(secret, token_id, token_secret, self._clock())
        if why:
            log.info("bootstrap secret %s/%s matching bearer token %s", bt.NAMESPACE, name, why)
            return None
        groups = bt.groups(secret)
        if groups is None:
            log.info("bootstrap secret %s/%s matching bearer token has invalid value for key "
                     "%s", bt.NAMESPACE, name, bt.KEY_EXTRA_GROUPS)
            return None
        return User(bt.USER_PREFIX + token_id, "", groups)


def _refusal(secret: dict[str, Any], token_id: str, token_secret: str,
             now: datetime) -> str:
    """Why ``secret`` does not accept the token ("" when it does), in upstream's words."""
    if (secret.get("metadata") or {}).get("deletionTimestamp"):
        return "is deleted and awaiting removal"
    if secret.get("type") != bt.SECRET_TYPE:
        return f"has invalid type, expected {bt.SECRET_TYPE}."
    if not hmac.compare_digest(bt.get_data(secret, bt.KEY_SECRET).encode(),
                               token_secret.encode()):
        return f"has invalid value for key {bt.KEY_SECRET}."
    if bt.get_data(secret, bt.KEY_ID) != token_id:
        return f"has invalid value for key {bt.KEY_ID}, expected {token_id}."
    if bt.has_expired(secret, now):
        return "has expired."
    if bt.get_data(secret, bt.USAGE_AUTHENTICATION) != "true":
        return f"not marked {bt.USAGE_AUTHENTICATION}=true."
    return ""
