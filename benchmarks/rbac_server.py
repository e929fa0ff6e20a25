"""``python -m benchmarks.rbac_server DATA_DIR PORT MODE``: the API server alone (Registry
on sqlite + :class:`~kubesvc.apiserver.http.server.ApiServer`, no controllers or nodes)
with ``--authorization-mode`` ``Node,RBAC`` or ``AlwaysAllow``, for :mod:`benchmarks.rbac`.
Writes ``DATA_DIR/kubeconfig`` (admin) once serving; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path


async def main(data_dir: Path, port: int, mode: str) -> None:
    from kubesvc.apiserver.http.server import ApiServer
    from kubesvc.apiserver.registry.core import Registry
    from kubesvc.client.kubeconfig import write_kubeconfig
    from kubesvc.storage import open_store

    store = await open_store(f"sqlite://{data_dir / 'state.db'}")
    registry = Registry(store)
    await registry.start()
    api = ApiServer(registry, data_dir=data_dir, port=port, authorization_mode=mode)
    await api.start()
    write_kubeconfig(data_dir / "kubeconfig", server=api.url, ca_pem=api.ca_pem,
                     token=api.token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"serving {api.url} ({mode})", flush=True)
    await stop.wait()
    await api.stop()
    await registry.stop()
    await store.close()


if __name__ == "__main__":
    from kubesvc.cli.components import install_uvloop

    install_uvloop()
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
