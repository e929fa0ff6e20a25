"""The built-in ``registry.k8s.io/e2e-test-images/agnhost`` image: upstream's test server
re-implemented in Python (subcommands ``netexec``, ``serve-hostname``, ``pause``,
``port-forward-tester``), run by the node agent as
``python -m kubesvc.runtime.agnhost <subcommand> [flags]``.

Servers bind ``KUBESVC_BIND_ADDRESS`` (the pod IP in host mode, all addresses in a pod's
network namespace) and answer with ``HOSTNAME`` (the pod's hostname, set by the agent).
"""
