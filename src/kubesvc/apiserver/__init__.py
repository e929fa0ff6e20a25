"""apiserver: the Kubernetes-compatible API server.

:mod:`.registry` is the storage-facing core (REST semantics over the ``Store``: CRUD, watch,
patch, subresources, graceful deletion, finalizers, namespace lifecycle, bootstrap objects);
:mod:`.allocators` hands out Service ClusterIPs and NodePorts; :mod:`.http` is the aiohttp
layer (routes, discovery, OpenAPI, TLS, auth, Table output) on top of the registry. Called by
``kubesvc.cli``; calls ``kubesvc.storage`` and ``kubesvc.api``.
"""
