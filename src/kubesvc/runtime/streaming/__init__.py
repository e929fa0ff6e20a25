"""Streaming into pods on the node: the agent's kubelet-style HTTPS server (:mod:`.server`)
for exec (:mod:`.exec`), attach (:mod:`.attach`), port-forward and container logs, and the
WebSocket channel protocols they speak (:mod:`.wsexec`)."""
