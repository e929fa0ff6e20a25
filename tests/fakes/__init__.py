"""Fakes for the Protocol seams: Store (store.py), Client (client.py), ProxyBackend
(proxy.py: RecordingBackend), PodRunner (runner.py), the nft runner (nft.py) and the
ingress data plane (ingress.py: RecordingPlane)."""
