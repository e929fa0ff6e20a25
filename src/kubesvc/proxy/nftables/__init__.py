"""The nftables data plane (netns mode, root), modelled on upstream kube-proxy's nftables
mode: one table per node, verdict maps keyed on ``daddr . l4proto . dport``, ``numgen
random`` endpoint choice, timed affinity sets, masquerade where upstream masquerades, and
reject for Services without endpoints.

:mod:`.rules` is pure (state -> rules and transaction text, tested against golden files);
:mod:`.nft` and :mod:`.libnft` run transactions (``nft -f`` processes, or one persistent
libnftables context); :mod:`.backend` ties them together.
"""

from __future__ import annotations

from kubesvc.proxy.nftables.backend import NftablesBackend

__all__ = ["NftablesBackend"]
