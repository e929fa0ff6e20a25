"""Pure rule building for the nftables backend: no I/O.

:func:`service_rules` turns one Service's ports and endpoints into its chains, affinity sets
and verdict-map elements; :func:`base_ruleset` is the fixed skeleton of the table;
:func:`transaction` diffs the previous and current per-Service rules into one ``nft -f``
transaction (a full rewrite, or only what changed). Chain names follow upstream's
``<kind>-<HASH>-<ns>/<name>/<proto>/<port>`` shape so ``nft list ruleset`` reads the same.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from kubesvc.proxy.model import Endpoint, ServicePort, usable_endpoints

MASQ_MARK = "0x4000"


@dataclass(frozen=True, slots=True)
class NftConfig:
    table: str = "kubesvc"
    node_name: str = ""
    pod_cidr: str = ""  # the cluster's pod CIDR; traffic from outside it is masqueraded


@dataclass(slots=True)
class ServiceRules:
    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # name -> body
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # map -> key -> verdict
    # endpoint chain -> (Service port label as the userspace proxy writes it, "ip:port"),
    # to report each endpoint chain's counter (one packet per new connection: NAT chains
    # see only a connection's first packet) as that endpoint's connections
    endpoint_labels: dict[str, tuple[str, str]] = field(default_factory=dict)

    def element(self, map_name: str, key: str, verdict: str) -> None:
        self.elements.setdefault(map_name, {})[key] = verdict


def _hash(s: str) -> str:
    return base64.b32encode(hashlib.sha256(s.encode()).digest())[:8].decode()


def _port_label(sp: ServicePort) -> str:
    return f"{sp.id.namespace}/{sp.id.name}/{sp.protocol.lower()}/{sp.id.port or sp.port}"


def chain_name(kind: str, sp: ServicePort) -> str:
    label = _port_label(sp)
    return f"{kind}-{_hash(kind + label)}-{label}"[:200]


def endpoint_chain_name(sp: ServicePort, ep: Endpoint) -> str:
    label = f"{_port_label(sp)}__{ep.ip}/{ep.port}"
    return f"endpoint-{_hash(label)}-{label}"[:200]


def affinity_set_name(sp: ServicePort, ep: Endpoint) -> str:
    label = f"{_port_label(sp)}__{ep.ip}/{ep.port}"
    return f"affinity-{_hash(label)}-{label}"[:200]


def _numgen(targets: list[str]) -> str:
    if len(targets) == 1:
        return f"goto {targets[0]}"
    items = ", ".join(f"{i} : goto {t}" for i, t in enumerate(targets))
    return f"numgen random mod {len(targets)} vmap {{ {items} }}"


def _balance(
    out: ServiceRules, chain: str, sp: ServicePort, eps: list[Endpoint], head: list[str]
) -> None:
    """Fill ``chain``: ``head`` rules, affinity checks, then a random endpoint choice."""
    rules = list(head)
    targets = []
    for ep in eps:
        epc = endpoint_chain_name(sp, ep)
        targets.append(epc)
        if sp.session_affinity:
            rules.append(f"ip saddr @{affinity_set_name(sp, ep)} goto {epc}")
    rules.append(_numgen(targets))
    out.chains[chain] = rules


def service_rules(
    ports: list[tuple[ServicePort, list[Endpoint]]], cfg: NftConfig
) -> ServiceRules:
    out = ServiceRules()
    for sp, all_eps in ports:
        proto = sp.protocol.lower()
        internal = usable_endpoints(all_eps, local_only=sp.internal_local,
                                    node_name=cfg.node_name)
        external = usable_endpoints(all_eps, local_only=sp.external_local,
                                    node_name=cfg.node_name)
        # Upstream: no endpoints at all -> reject; endpoints, but none this policy may use
        # (traffic policy Local, none on this node) -> drop.
        none_verdict = ("goto reject-chain" if not usable_endpoints(
            all_eps, local_only=False, node_name=cfg.node_name) else "drop")
        used = {e.addr: e for e in internal + external}
        for ep in used.values():
            rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]  # hairpin
            if sp.session_affinity:
                rules.append(f"update @{affinity_set_name(sp, ep)} {{ ip saddr }}")
                out.sets[affinity_set_name(sp, ep)] = (
                    f"type ipv4_addr; flags dynamic,timeout; timeout {sp.affinity_timeout}s;"
                )
            rules.append(f"meta l4proto {proto} counter dnat to {ep.ip}:{ep.port}")
            out.chains[endpoint_chain_name(sp, ep)] = rules
            out.endpoint_labels[endpoint_chain_name(sp, ep)] = (str(sp.id),
                                                                f"{ep.ip}:{ep.port}")

        svc_chain = chain_name("service", sp)
        if internal:
            head = []
            if cfg.pod_cidr:
                head = [
                    f"ip daddr {ip} {proto} dport {sp.port} ip saddr != {cfg.pod_cidr} "
                    "jump mark-for-masquerade"
                    for ip in sp.cluster_ips
                ]
            _balance(out, svc_chain, sp, internal, head)
        for ip in sp.cluster_ips:
            key = f"{ip} . {proto} . {sp.port}"
            if internal:
                out.element("service-ips", key, f"goto {svc_chain}")
            else:
                out.element("no-endpoint-services", key, none_verdict)

        has_external = bool(sp.node_port or sp.external_ips or sp.lb_ips)
        if not has_external:
            continue
        ext_chain = chain_name("external", sp)
        if external:
            if sp.external_local:
                # Local: keep the client address; only this node's endpoints.
                _balance(out, ext_chain, sp, external, [])
            elif internal:
                out.chains[ext_chain] = ["jump mark-for-masquerade", f"goto {svc_chain}"]
            else:
                _balance(out, ext_chain, sp, external, ["jump mark-for-masquerade"])
        ext_keys = [f"{ip} . {proto} . {sp.port}" for ip in (*sp.external_ips, *sp.lb_ips)]
        for key in ext_keys:
            if external:
                out.element("service-ips", key, f"goto {ext_chain}")
            else:
                out.element("no-endpoint-services", key, none_verdict)
        if sp.node_port:
            key = f"{proto} . {sp.node_port}"
            if external:
                out.element("service-nodeports", key, f"goto {ext_chain}")
            else:
                out.element("no-endpoint-nodeports", key, none_verdict)
        if sp.source_ranges and sp.lb_ips:
            fw = chain_name("firewall", sp)
            ranges = ", ".join(sp.source_ranges)
            out.chains[fw] = [f"ip saddr != {{ {ranges} }} drop"]
            for ip in sp.lb_ips:
                out.element("firewall-ips", f"{ip} . {proto} . {sp.port}", f"goto {fw}")
    return out


MAPS = {
    "service-ips": "type ipv4_addr . inet_proto . inet_service : verdict;",
    "service-nodeports": "type inet_proto . inet_service : verdict;",
    "no-endpoint-services": "type ipv4_addr . inet_proto . inet_service : verdict;",
    "no-endpoint-nodeports": "type inet_proto . inet_service : verdict;",
    "firewall-ips": "type ipv4_addr . inet_proto . inet_service : verdict;",
}

# Only NAT base chains: netfilter runs NAT chains for the first packet of a connection
# alone, so established flows never evaluate a kubesvc rule. Upstream checks firewall and
# no-endpoint maps from filter chains at priority dstnat-10 with ``ct state new``; here the
# same checks run first thing in the NAT chains, which see the same pre-DNAT addresses for
# the same (new) packets, without a filter hook on every packet of every flow. (``reject``
# in the prerouting hook needs Linux 5.10 or later.)
BASE_CHAINS: dict[str, list[str]] = {
    "nat-prerouting": ["type nat hook prerouting priority dstnat; policy accept;",
                       "jump firewall-check", "jump services"],
    "nat-output": ["type nat hook output priority -100; policy accept;",
                   "jump firewall-check", "jump services"],
    "nat-postrouting": ["type nat hook postrouting priority srcnat; policy accept;",
                        "jump masquerading"],
    "firewall-check": ["ip daddr . meta l4proto . th dport vmap @firewall-ips"],
    "reject-chain": ["reject"],
    "services": [
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports"],
    "nodeports": [
        "meta l4proto . th dport vmap @service-nodeports",
        "meta l4proto . th dport vmap @no-endpoint-nodeports"],
    "mark-for-masquerade": [f"mark set mark or {MASQ_MARK}"],
    "masquerading": [f"mark and {MASQ_MARK} == 0 return",
                     f"mark set mark xor {MASQ_MARK}", "masquerade fully-random"],
}


def _chain_body(chain: str, rules: list[str]) -> str:
    return f"\tchain {chain} {{\n" + "".join(f"\t\t{r}\n" for r in rules) + "\t}\n"


def base_ruleset(cfg: NftConfig) -> str:
    """The fixed skeleton of the table, in ``nft -f`` block syntax."""
    out = [f"table ip {cfg.table} {{\n", '\tcomment "rules for kubesvc services"\n']
    for name, body in MAPS.items():
        out.append(f"\tmap {name} {{\n\t\t{body}\n\t}}\n")
    for name, rules in BASE_CHAINS.items():
        out.append(_chain_body(name, rules))
    out.append("}\n")
    return "".join(out)


def transaction(
    prev: dict[str, ServiceRules],
    cur: dict[str, ServiceRules],
    changed: set[str],
    *,
    full: bool,
    cfg: NftConfig,
) -> str:
    """One atomic ``nft -f`` input taking the kernel from ``prev`` to ``cur``.

    Full: recreate the table. Partial: rewrite the chains of ``changed`` Services, swap
    their map elements, then drop chains and sets nothing references any more."""
    t = f"ip {cfg.table}"
    lines: list[str] = []
    if full:
        lines += [f"add table {t}", f"delete table {t}", base_ruleset(cfg).rstrip("\n")]
        keys = sorted(cur)
        old_rules: dict[str, ServiceRules] = {}
    else:
        keys = sorted(changed)
        old_rules = prev
    new_chains: dict[str, list[str]] = {}
    new_sets: dict[str, str] = {}
    for k in keys:
        r = cur.get(k)
        if r is not None:
            new_chains.update(r.chains)
            new_sets.update(r.sets)
    old_chains: set[str] = set()
    old_sets: set[str] = set()
    for k in keys:
        r = old_rules.get(k)
        if r is not None:
            old_chains |= set(r.chains)
            old_sets |= set(r.sets)
    for name, body in sorted(new_sets.items()):
        if name not in old_sets:
            lines.append(f"add set {t} {name} {{ {body} }}")
    for name in sorted(new_chains):
        lines.append(f"add chain {t} {name}")
        if name in old_chains:
            lines.append(f"flush chain {t} {name}")
    for name, rules in sorted(new_chains.items()):
        for rule in rules:
            lines.append(f"add rule {t} {name} {rule}")
    # Swap map elements: remove this Service's old keys, add the new ones.
    for k in keys:
        r = old_rules.get(k)
        if r is None:
            continue
        for map_name, elems in sorted(r.elements.items()):
            if elems:
                lines.append(f"delete element {t} {map_name} {{ {', '.join(sorted(elems))} }}")
    for k in keys:
        r = cur.get(k)
        if r is None:
            continue
        for map_name, elems in sorted(r.elements.items()):
            if elems:
                items = ", ".join(f"{key} : {v}" for key, v in sorted(elems.items()))
                lines.append(f"add element {t} {map_name} {{ {items} }}")
    for name in sorted(old_chains - set(new_chains)):
        lines.append(f"flush chain {t} {name}")
    for name in sorted(old_chains - set(new_chains)):
        lines.append(f"delete chain {t} {name}")
    for name in sorted(old_sets - set(new_sets)):
        lines.append(f"delete set {t} {name}")
    return "\n".join(lines) + "\n"
