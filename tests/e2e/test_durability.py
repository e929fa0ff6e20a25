"""Issue 2: ``kill -9`` of ``kubesvc up`` during a stream of creates, then a restart on
the same data dir: every create that returned 201 is there and the store opens cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.e2e.conftest import MISSING, start_cluster

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok")


def api(kubeconfig: Path) -> client.CoreV1Api:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def test_kill_9_during_creates_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    c = start_cluster(data)
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        v1 = api(c.kubeconfig)
        for i in range(5000):  # bounded: at most 5,000 creates
            if stop.is_set():
                return
            name = f"cm-{i:05d}"
            try:
                v1.create_namespaced_config_map(
                    "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                                  data={"i": str(i)}))
            except Exception:
                return  # the server died mid-request: not acknowledged
            acked.append(name)

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(c.proc.pid, signal.SIGKILL)
    c.proc.wait()
    stop.set()
    t.join(timeout=30)
    assert len(acked) >= 150, "the writer did not get going"

    c2 = start_cluster(data, api_port=c.api_port, dns_port=c.dns_port,
                       service_cidr=c.service_cidr, lb_pool=c.lb_pool)
    try:
        v1 = api(c2.kubeconfig)
        names = {cm.metadata.name for cm in
                 v1.list_namespaced_config_map("default").items}
        missing = [n for n in acked if n not in names]
        assert not missing, f"{len(missing)} acknowledged creates lost: {missing[:5]}"
        # The store is healthy: it takes new writes and the old objects read back intact.
        cm = v1.read_namespaced_config_map(acked[-1], "default")
        assert cm.data == {"i": str(int(acked[-1].split("-")[1]))}
        v1.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="after-restart")))
        with pytest.raises(ApiException) as exc:
            v1.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=acked[0])))
        assert exc.value.status == 409
    finally:
        c2.stop()
