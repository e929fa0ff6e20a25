"""Fakes for the Protocol seams (Store, Client, ProxyBackend, PodRunner)."""
