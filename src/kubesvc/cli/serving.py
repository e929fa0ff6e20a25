"""The API server's load flags, shared by ``kubesvc up`` and ``kubesvc server`` under
upstream's names: ``--max-requests-inflight``, ``--max-mutating-requests-inflight``,
``--request-timeout`` and ``--min-request-timeout``; its authentication flags
``--anonymous-auth`` and ``--service-account-issuer``; and the certificate ones,
``--client-ca-file`` (the API server's) and ``--cluster-signing-duration`` (the CSR
signer's). Called by :mod:`.commands` (flags),
:mod:`.up` and :mod:`.server` (their options); builds :class:`~kubesvc.apiserver.http.Limits`.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# upstream's defaults (also :mod:`kubesvc.apiserver.http.limits`'s; not imported from
# there so that parsing flags does not load aiohttp)
MAX_REQUESTS_INFLIGHT = 400
MAX_MUTATING_REQUESTS_INFLIGHT = 200
REQUEST_TIMEOUT = 60.0
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CLUSTER_SIGNING_DURATION = 8760 * 3600.0  # kube-controller-manager's 8760h0m0s

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration(text: str) -> float:
    """A Go duration (``1m0s``, ``90s``, ``500ms``) or plain seconds, in seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


@dataclass(slots=True, frozen=True)
class Serving:
    max_requests_inflight: int = MAX_REQUESTS_INFLIGHT
    max_mutating_requests_inflight: int = MAX_MUTATING_REQUESTS_INFLIGHT
    request_timeout: float = REQUEST_TIMEOUT
    min_request_timeout: int = 1800
    anonymous_auth: bool = True
    service_account_issuer: str = SERVICE_ACCOUNT_ISSUER
    client_ca_file: Path | None = None
    cluster_signing_duration: float = CLUSTER_SIGNING_DURATION

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> Serving:
        d = cls()
        return cls(
            max_requests_inflight=getattr(a, "max_requests_inflight", d.max_requests_inflight),
            max_mutating_requests_inflight=getattr(
                a, "max_mutating_requests_inflight", d.max_mutating_requests_inflight),
            request_timeout=getattr(a, "request_timeout", d.request_timeout),
            min_request_timeout=getattr(a, "min_request_timeout", d.min_request_timeout),
            anonymous_auth=getattr(a, "anonymous_auth", d.anonymous_auth),
            service_account_issuer=getattr(a, "service_account_issuer",
                                           d.service_account_issuer),
            client_ca_file=getattr(a, "client_ca_file", d.client_ca_file),
            cluster_signing_duration=getattr(a, "cluster_signing_duration",
                                             d.cluster_signing_duration),
        )

    def api_server_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~kubesvc.apiserver.http.server.ApiServer`."""
        from kubesvc.apiserver.http.limits import Limits

        return {
            "limits": Limits(
                max_requests_inflight=self.max_requests_inflight,
                max_mutating_requests_inflight=self.max_mutating_requests_inflight,
                request_timeout=self.request_timeout,
            ),
            "min_request_timeout": self.min_request_timeout,
            "anonymous_auth": self.anonymous_auth,
            "service_account_issuer": self.service_account_issuer,
            "client_ca_file": self.client_ca_file,
        }


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-requests-inflight", type=int, default=MAX_REQUESTS_INFLIGHT,
                   help="non-mutating requests served at once before 429 (0: no limit)")
    p.add_argument("--max-mutating-requests-inflight", type=int,
                   default=MAX_MUTATING_REQUESTS_INFLIGHT,
                   help="mutating requests served at once before 429 (0: no limit)")
    p.add_argument("--request-timeout", type=duration, default=REQUEST_TIMEOUT,
                   help="answer 504 to a request (not a watch, log or proxy) still running "
                        "after this long (default 1m0s)")
    p.add_argument("--min-request-timeout", type=int, default=1800,
                   help="a watch without timeoutSeconds lasts a random span of this many "
                        "seconds to twice that")
    p.add_argument("--anonymous-auth", type=_bool, nargs="?", const=True, default=True,
                   metavar="true|false",
                   help="requests without a bearer token are system:anonymous, for RBAC to "
                        "judge (default true); false answers them 401")
    p.add_argument("--service-account-issuer", default=SERVICE_ACCOUNT_ISSUER,
                   help="the iss of ServiceAccount tokens (default "
                        "https://kubernetes.default.svc.cluster.local)")
    p.add_argument("--client-ca-file", type=Path, default=None,
                   help="client certificates must chain to this CA (default: the cluster "
                        "CA, DATA_DIR/pki/ca.crt)")
    p.add_argument("--cluster-signing-duration", type=duration,
                   default=CLUSTER_SIGNING_DURATION,
                   help="longest validity of a certificate the CSR signer issues "
                        "(default 8760h0m0s)")


def _bool(text: str) -> bool:
    """A Go-style boolean flag value."""
    low = text.lower()
    if low in ("true", "t", "1"):
        return True
    if low in ("false", "f", "0"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")
