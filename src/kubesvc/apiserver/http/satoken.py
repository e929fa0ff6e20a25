"""ServiceAccount tokens: the signing key, issuing (TokenRequest) and verifying (the
authenticator), as upstream's ``pkg/serviceaccount`` (``jwt.go``, ``claims.go``) and
``k8s.io/apiserver/pkg/authentication/serviceaccount``.

Tokens are RS256 JWTs signed by one RSA key kept at ``DATA_DIR/pki/sa.key`` (0600; the
public half in ``sa.pub``, as kubeadm names them), created once and shared by every API
server on the data dir. The header names the key (``kid``: the unpadded base64url SHA-256
of the public key's DER, upstream's key id); the claims are upstream's: ``iss``, ``sub``
(``system:serviceaccount:NS:NAME``), ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the
private ``kubernetes.io`` claim (namespace, serviceaccount name/uid, and the pod, secret or
node the token is bound to, with the pod's node).

:class:`ServiceAccountAuthenticator` accepts a token only if it carries one of our issuers,
its signature verifies, one of its audiences is wanted (the API audiences, by default the
issuer), it has not expired, and the ServiceAccount — and the bound pod, secret or node —
still exists with the uid in the token. Its objects are read live through an
:data:`ObjectGetter` (the Registry's get), so a deleted ServiceAccount invalidates its
tokens at once. Called by :mod:`.app` (request chain), :mod:`.tokens` (TokenRequest,
TokenReview) and :mod:`.server` (construction); calls ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import parse_time
from kubesvc.apiserver.http.auth import User

log = logging.getLogger(__name__)

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
PRIVATE_CLAIM = "kubernetes.io"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
LEEWAY = 60  # go-jose's jwt.DefaultLeeway, seconds
SIGNATURE_ERROR = "go-jose/go-jose: error in cryptographic primitive"

#: ``(resource, namespace, name) -> object``; raises :class:`errors.NotFound`.
ObjectGetter = Callable[[str, str, str], Awaitable[Obj]]


def username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def group_names(namespace: str) -> tuple[str, str]:
    return SA_GROUP, f"{SA_GROUP}:{namespace}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SigningKey:
    """The RSA key that signs ServiceAccount tokens (and its public JWK)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.private = key
        self.public = key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(hashlib.sha256(der).digest())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in ``path`` (PEM), made first if missing: written 0600 and linked into
        place, so API servers starting together on one data dir all end up with one key."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = cls.generate()
            pem = key.private.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.TraditionalOpenSSL,
                                            serialization.NoEncryption())
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            try:
                os.link(tmp, path)  # fails if another server made one meanwhile
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            pub = path.with_suffix(".pub")
            pub.write_bytes(key.public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA private key")
        return cls(loaded)

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = orjson.dumps({"alg": "RS256", "kid": self.kid})
        body = orjson.dumps(claims, option=orjson.OPT_SORT_KEYS)
        signing_input = f"{_b64(header)}.{_b64(body)}".encode()
        sig = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64(sig)}"

    def verify(self, token: str) -> bool:
        head, _, rest = token.rpartition(".")
        try:
            self.public.verify(_unb64(rest), head.encode(), padding.PKCS1v15(),
                               hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def jwk(self) -> dict[str, str]:
        nums = self.public.public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        return {"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256", "n": _b64(n),
                "e": _b64(e)}


def _ref(obj: Obj) -> dict[str, str]:
    md = obj.get("metadata") or {}
    return {"name": str(md.get("name") or ""), "uid": str(md.get("uid") or "")}


def claims(sa: Obj, *, issuer: str, audiences: Sequence[str], expiration_seconds: int,
           now: datetime, pod: Obj | None = None, secret: Obj | None = None,
           node: Obj | None = None, warn_after: int = 0) -> dict[str, Any]:
    """Upstream's ``serviceaccount.Claims``: the public and private claims of a token for
    ``sa`` (a pod-bound token also names the pod's ``node`` when one is given)."""
    md = sa.get("metadata") or {}
    ns = str(md.get("namespace") or "")
    t = int(now.timestamp())
    private: dict[str, Any] = {"namespace": ns, "serviceaccount": _ref(sa)}
    if pod is not None:
        private["pod"] = _ref(pod)
        if node is not None:
            private["node"] = _ref(node)
    elif secret is not None:
        private["secret"] = _ref(secret)
    elif node is not None:
        private["node"] = _ref(node)
    if warn_after:
        private["warnafter"] = t + warn_after
    return {
        "iss": issuer, "sub": username(ns, str(md.get("name") or "")),
        "aud": list(audiences), "iat": t, "nbf": t, "exp": t + expiration_seconds,
        "jti": str(uuid.uuid4()), PRIVATE_CLAIM: private,
    }


@dataclass(frozen=True, slots=True)
class Result:
    """What the authenticator made of a token: a user (and the audiences it is good for),
    or None with the error upstream would report ("" when the token is not ours at all)."""

    user: User | None
    audiences: tuple[str, ...] = ()
    error: str = ""


def _go_quote_list(items: Sequence[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(orjson.dumps(i).decode() for i in items) + "]"


class ServiceAccountAuthenticator:
    """Upstream's ``JWTTokenAuthenticator`` with the ServiceAccount validator."""

    def __init__(self, keys: Sequence[SigningKey], *, get: ObjectGetter,
                 issuers: Sequence[str] = (DEFAULT_ISSUER,),
                 api_audiences: Sequence[str] = (),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.keys = tuple(keys)
        self.issuers = tuple(issuers)
        self.api_audiences = tuple(api_audiences) or self.issuers[:1]
        self._get = get
        self._clock = clock

    def _payload(self, token: str) -> dict[str, Any] | None:
        """The unverified claims when ``token`` is a JWT naming one of our issuers."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            payload = orjson.loads(_unb64(parts[1]))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(payload, dict) or payload.get("iss") not in self.issuers:
            return None
        return payload

    async def authenticate(self, token: str,
                           audiences: Sequence[str] | None = None) -> Result:
        """Check ``token`` for ``audiences`` (the API audiences when None)."""
        payload = self._payload(token)
        if payload is None:
            return Result(None)
        if not any(k.verify(token) for k in self.keys):
            return Result(None, error=SIGNATURE_ERROR)
        aud = payload.get("aud")
        token_auds = [aud] if isinstance(aud, str) else [str(a) for a in aud or []]
        if not token_auds:
            token_auds = list(self.api_audiences)  # a legacy token: API audiences only
        wanted = list(audiences) if audiences else list(self.api_audiences)
        matched = tuple(a for a in wanted if a in token_auds)
        if not matched:
            return Result(None, error=f"token audiences {_go_quote_list(token_auds)} is "
                          f"invalid for the target audiences {_go_quote_list(wanted)}")
        now = self._clock()
        t = now.timestamp()
        try:
            exp, nbf = payload.get("exp"), payload.get("nbf")
            if exp is not None and t - LEEWAY > float(exp):
                return Result(None, error="service account token has expired")
            if nbf is not None and t + LEEWAY < float(nbf):
                return Result(None, error="service account token is not valid yet")
        except (TypeError, ValueError):
            return Result(None, error="service account token claims could not be validated "
                          "due to unexpected validation error")
        private = payload.get(PRIVATE_CLAIM)
        if not isinstance(private, dict):
            return Result(None, error="service account token claims could not be validated "
                          "due to unexpected private claim")
        try:
            user = await self._validate(private, t)
        except _Refused as exc:
            return Result(None, error=str(exc))
        jti = payload.get("jti")
        if isinstance(jti, str) and jti:
            user = User(user.name, user.uid, user.groups,
                        extra=(*user.extra, (CREDENTIAL_ID_KEY, (f"JTI={jti}",))))
        return Result(user, matched)

    async def _validate(self, private: dict[str, Any], t: float) -> User:
        """Upstream's validator: the ServiceAccount and the bound objects still exist with
        the token's uids (objects deleted more than the leeway ago count as gone)."""
        ns = str(private.get("namespace") or "")
        sa_ref = _claim_ref(private.get("serviceaccount")) or ("", "")
        try:
            sa = await self._get("serviceaccounts", ns, sa_ref[0])
        except errors.NotFound as exc:
            raise _Refused(exc.message) from exc
        if _deleted_before(sa, t - LEEWAY):
            raise _Refused(f"service account {ns}/{sa_ref[0]} has been deleted")
        sa_uid = str((sa.get("metadata") or {}).get("uid") or "")
        if sa_uid != sa_ref[1]:
            raise _Refused(f"service account UID ({sa_uid}) does not match claim "
                           f"({sa_ref[1]})")
        extra: list[tuple[str, tuple[str, ...]]] = []
        pod_bound = _claim_ref(private.get("pod")) is not None
        for kind, resource in (("secret", "secrets"), ("pod", "pods"), ("node", "nodes")):
            ref = _claim_ref(private.get(kind))
            if ref is None:
                continue
            if kind == "node" and pod_bound:
                # a pod-bound token's node claims are only reported, not checked
                extra += [(NODE_NAME_KEY, (ref[0],)), (NODE_UID_KEY, (ref[1],))]
                continue
            try:
                obj = await self._get(resource, "" if kind == "node" else ns, ref[0])
            except errors.NotFound as exc:
                raise _Refused("service account token has been invalidated") from exc
            if _deleted_before(obj, t - LEEWAY):
                raise _Refused("service account token has been invalidated")
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            if uid != ref[1]:
                raise _Refused(f"{kind} UID ({uid}) does not match service account {kind} "
                               f"ref claim ({ref[1]})")
            if kind == "pod":
                extra += [(POD_NAME_KEY, (ref[0],)), (POD_UID_KEY, (ref[1],))]
            elif kind == "node":
                extra += [(NODE_NAME_KEY, (ref[0],)), (NODE_UID_KEY, (ref[1],))]
        return User(username(ns, sa_ref[0]), sa_ref[1], group_names(ns), extra=tuple(extra))


class _Refused(Exception):
    pass


def _claim_ref(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict) or not value.get("name"):
        return None
    return str(value["name"]), str(value.get("uid") or "")


def _deleted_before(obj: Obj, t: float) -> bool:
    ts = parse_time((obj.get("metadata") or {}).get("deletionTimestamp"))
    return ts is not None and ts.timestamp() < t
