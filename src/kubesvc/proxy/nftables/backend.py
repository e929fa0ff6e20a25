"""NftablesBackend: a :class:`~kubesvc.proxy.backend.ProxyBackend` that programs the
kernel through :mod:`.rules` and :mod:`.nft`, incrementally (only changed Services) after
the first full sync, and with a full rewrite after any failure. :meth:`refresh_stats` reads
the endpoint chains' counters back (at each metrics scrape) as connections per endpoint."""

from __future__ import annotations

import re

from kubesvc.proxy.healthcheck import HealthCheckServer
from kubesvc.proxy.nftables.nft import NftRunner
from kubesvc.proxy.nftables.rules import NftConfig, ServiceRules, service_rules, transaction
from kubesvc.proxy.stats import Counters, Stats
from kubesvc.proxy.tracker import SyncRequest

_CHAIN = re.compile(r"^\s*chain (\S+) \{")
_COUNTER = re.compile(r"counter packets (\d+) bytes (\d+)")


class NftablesBackend:
    name = "nftables"

    def __init__(self, runner: NftRunner, cfg: NftConfig, *, health_host: str = "") -> None:
        self.runner = runner
        self.cfg = cfg
        self.health_host = health_host
        self._applied: dict[str, ServiceRules] = {}
        self._health: dict[str, HealthCheckServer] = {}
        self.last_transaction = ""
        self.stats = Stats()

    async def sync(self, req: SyncRequest) -> None:
        st = req.state
        keys = set(st.by_service) if req.full else set(req.changed)
        cur = dict(self._applied) if not req.full else {}
        for key in keys:
            ports = [(st.ports[spn], st.endpoints.get(spn, []))
                     for spn in st.by_service.get(key, [])]
            if ports:
                cur[key] = service_rules(ports, self.cfg)
            else:
                cur.pop(key, None)
        text = transaction(self._applied, cur, keys | (set(self._applied) - set(cur)),
                           full=req.full or not self._applied, cfg=self.cfg)
        await self.runner.apply(text)
        self.last_transaction = text
        self._applied = cur
        if self.health_host:
            await self._sync_health(req, keys)

    async def refresh_stats(self) -> None:
        """Connections per (Service port, endpoint) from the kernel's counters. Bytes are
        not counted: the NAT chains see only each connection's first packet."""
        labels = {chain: label for rules in self._applied.values()
                  for chain, label in rules.endpoint_labels.items()}
        if not labels:
            self.stats.by_endpoint.clear()
            return
        text = await self.runner.run("list", "table", "ip", self.cfg.table)
        counts: dict[tuple[str, str], Counters] = {}
        chain = ""
        for line in text.splitlines():
            m = _CHAIN.match(line)
            if m:
                chain = m.group(1)
                continue
            label = labels.get(chain)
            if label is not None:
                c = _COUNTER.search(line)
                if c:
                    counts[label] = Counters(connections=int(c.group(1)))
        self.stats.by_endpoint.clear()
        self.stats.by_endpoint.update(counts)

    async def _sync_health(self, req: SyncRequest, keys: set[str]) -> None:
        st = req.state
        for key in keys:
            want = st.health_check(key, node_name=self.cfg.node_name)
            cur = self._health.get(key)
            if cur is not None and (want is None or cur.port != want[0]):
                await cur.close()
                del self._health[key]
                cur = None
            if want is None:
                continue
            if cur is None:
                ns, _, name = key.partition("/")
                cur = HealthCheckServer(ns, name, host=self.health_host, port=want[0])
                await cur.start()
                self._health[key] = cur
            cur.local_endpoints = want[1]

    async def close(self) -> None:
        for h in self._health.values():
            await h.close()
        self._health.clear()
        try:
            if self._applied:
                await self.runner.apply(
                    f"add table ip {self.cfg.table}\ndelete table ip {self.cfg.table}\n")
        finally:
            self._applied = {}
            await self.runner.close()
