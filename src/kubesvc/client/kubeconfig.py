"""Read and write kubeconfig files (the format ``kubectl`` uses).

``kubesvc up`` / ``kubesvc server`` call :func:`write_kubeconfig` after generating the CA and
admin token, so unmodified ``kubectl`` and the ``kubernetes`` Python client can connect;
:meth:`kubesvc.client.http.HttpClient.from_kubeconfig` calls :func:`load_kubeconfig` to find
the server, CA and credentials. Calls only PyYAML and the file system.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubesvc import errors


@dataclass(frozen=True, slots=True)
class KubeConfig:
    """The parts of one kubeconfig context a client needs (paths already resolved)."""

    server: str
    ca_data: bytes | None = None  # PEM
    insecure_skip_tls_verify: bool = False
    token: str = ""
    client_cert_data: bytes | None = None  # PEM
    client_key_data: bytes | None = None  # PEM
    namespace: str = "default"
    context: str = ""


def _named(items: Any, name: str, what: str, path: Path) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(what)
            return body if isinstance(body, dict) else {}
    raise errors.BadRequest(f"kubeconfig {path}: no {what} named {name!r}")


def _data_or_file(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """``<key>-data`` (base64) or ``<key>`` (a path, relative to the kubeconfig's folder)."""
    data = section.get(f"{key}-data")
    if data:
        return base64.b64decode(data)
    file = section.get(key)
    if file:
        return (base / os.path.expanduser(str(file))).read_bytes()
    return None


def load_kubeconfig(path: str | os.PathLike[str], *, context: str = "") -> KubeConfig:
    """Parse ``path`` and resolve ``context`` (default: ``current-context``)."""
    p = Path(path).expanduser()
    try:
        doc = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise errors.BadRequest(f"cannot read kubeconfig {p}: {exc}") from exc
    if not isinstance(doc, dict):
        raise errors.BadRequest(f"kubeconfig {p} is not a mapping")
    name = context or str(doc.get("current-context") or "")
    if not name:
        raise errors.BadRequest(f"kubeconfig {p}: no current-context and no context given")
    ctx = _named(doc.get("contexts"), name, "context", p)
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster") or ""), "cluster", p)
    user_name = str(ctx.get("user") or "")
    user = _named(doc.get("users"), user_name, "user", p) if user_name else {}
    base = p.parent
    server = str(cluster.get("server") or "")
    if not server:
        raise errors.BadRequest(f"kubeconfig {p}: cluster of context {name!r} has no server")
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    try:
        return KubeConfig(
            server=server,
            ca_data=_data_or_file(cluster, "certificate-authority", base),
            insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
            token=token,
            client_cert_data=_data_or_file(user, "client-certificate", base),
            client_key_data=_data_or_file(user, "client-key", base),
            namespace=str(ctx.get("namespace") or "default"),
            context=name,
        )
    except (OSError, ValueError) as exc:
        raise errors.BadRequest(f"kubeconfig {p}: {exc}") from exc


def kubeconfig_dict(
    *, server: str, ca_pem: bytes, token: str = "", cluster_name: str = "kubesvc",
    namespace: str = "", client_cert: bytes | None = None, client_key: bytes | None = None,
) -> dict[str, Any]:
    """A standard ``kind: Config`` document with one cluster, user and context; the user
    carries the bearer token and/or the client certificate and key (inline, as kubeadm's
    admin.conf)."""
    user = f"{cluster_name}-admin"
    creds: dict[str, Any] = {}
    if client_cert and client_key:
        creds["client-certificate-data"] = base64.b64encode(client_cert).decode()
        creds["client-key-data"] = base64.b64encode(client_key).decode()
    if token:
        creds["token"] = token
    ctx: dict[str, Any] = {"cluster": cluster_name, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": cluster_name,
            "cluster": {
                "server": server,
                "certificate-authority-data": base64.b64encode(ca_pem).decode(),
            },
        }],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": cluster_name, "context": ctx}],
        "current-context": cluster_name,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | os.PathLike[str], *, server: str, ca_pem: bytes, token: str = "",
    cluster_name: str = "kubesvc", client_cert: bytes | None = None,
    client_key: bytes | None = None,
) -> None:
    """Write a kubeconfig ``kubectl`` accepts. It holds a credential, so the file is
    created mode 0600, and replaced atomically (readers never see half a file)."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        kubeconfig_dict(server=server, ca_pem=ca_pem, token=token, cluster_name=cluster_name,
                        client_cert=client_cert, client_key=client_key),
        sort_keys=False,
    )
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

