"""X.509 client-certificate authentication, as upstream's
``staging/src/k8s.io/apiserver/pkg/authentication/request/x509`` with its
``CommonNameUserConversion``: a certificate the TLS layer verified against the client CA
(:meth:`.tls.TlsFiles.server_context`) authenticates as user = subject CN, groups = the
subject's O entries; one without the ``clientAuth`` extended key usage (when it lists
usages at all) or with an empty CN authenticates no one, and the request falls through to
the bearer-token authenticators, as upstream's union does.

Also the CSR requester hook: :func:`csr_requester` gives the HTTP create handler a function
that writes the caller's identity into ``spec.username/uid/groups`` of a
CertificateSigningRequest. Called by :mod:`.app`; reads the peer certificate from the
aiohttp transport (``get_extra_info("ssl_object")``).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubesvc.api.certificates import KEY as CSR_KEY
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.registry.certificates import set_requester

log = logging.getLogger(__name__)

__all__ = ["CSR_KEY", "X509Authenticator", "csr_requester", "user_from_certificate"]

_CACHE_MAX = 4096
AUTHENTICATED = "system:authenticated"


def user_from_certificate(cert: x509.Certificate) -> User | None:
    """The user a verified certificate names, or None when it names none."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and \
                ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return None
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else ""
    if not name:
        return None
    groups = tuple(str(a.value) for a in
                   cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return User(name, "", groups)


class X509Authenticator:
    """Users from verified client certificates, parsed once per distinct certificate."""

    def __init__(self) -> None:
        self._cache: dict[bytes, User | None] = {}

    def authenticate(self, request: web.Request) -> User | None:
        transport = request.transport
        if transport is None:
            return None
        ssl_object: Any = transport.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return None  # plain HTTP (the unix socket): no certificate
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        try:
            return self._cache[der]
        except KeyError:
            pass
        try:
            user = user_from_certificate(x509.load_der_x509_certificate(der))
        except ValueError:
            log.info("unreadable client certificate")
            user = None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[der] = user
        return user


def csr_requester(info: ResourceInfo, user: User | None) -> Callable[[dict[str, Any]], None]:
    """For a CertificateSigningRequest create: a function stamping the requester (with
    ``system:authenticated``, as upstream's authenticators add it) into the object."""
    def stamp(obj: dict[str, Any]) -> None:
        if info.key != CSR_KEY or user is None:
            return
        groups = user.groups if AUTHENTICATED in user.groups else (*user.groups, AUTHENTICATED)
        set_requester(obj, user=user.name, uid=user.uid, groups=groups)

    return stamp
