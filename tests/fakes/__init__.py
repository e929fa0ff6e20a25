"""Fakes for the Protocol seams: Store (store.py), Client (client.py), ProxyBackend
(proxy.py: RecordingBackend), PodRunner (runner.py), and the nft runner (nft.py)."""
