"""The certificates.k8s.io wiring of ``kubesvc up`` and ``kubesvc server``: what the CSR
approver and signer need from the API server — its authorizer (for the approver's
SubjectAccessReviews) and the cluster CA (``pki/ca.{crt,key}``, the signer's
``--cluster-signing-cert-file``/``--cluster-signing-key-file``) — as ControllerOptions
keyword arguments. Called by :mod:`.up` and :mod:`.server`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesvc.api import pki
from kubesvc.apiserver.http.server import ApiServer
from kubesvc.cli.serving import Serving


def signing_authority(data_dir: Path) -> pki.Authority:
    d = data_dir / "pki"
    return pki.Authority.from_pem((d / "ca.crt").read_bytes(), (d / "ca.key").read_bytes())


def controller_options(api: ApiServer, serving: Serving) -> dict[str, Any]:
    """``csr_authorize``, ``signing_ca`` and ``cluster_signing_duration`` for
    :class:`ControllerOptions`."""
    return {"csr_authorize": api.authorize, "signing_ca": signing_authority(api.data_dir),
            "cluster_signing_duration": serving.cluster_signing_duration}
