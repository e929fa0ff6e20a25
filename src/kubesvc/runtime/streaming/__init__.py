"""Streaming between clients and pods: exec, attach and port-forward, as kubelet serves them."""
