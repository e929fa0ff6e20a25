"""The pod sandbox of the process runtime: each pod's own directory under the node's data
dir (``<data_dir>/sandboxes/<pod-uid>/``), its volumes (:mod:`.volumes`, written with
kubelet's atomic-writer layout by :mod:`.atomic`), the mount plan of each container
(:mod:`.mountplan`: a root of read-only binds of the host's system directories plus the
pod's volumes), securityContext resolution (:mod:`.security`) and the launcher that builds
the root in a new mount namespace and execs the container (:mod:`.launch`, run as a
script). :class:`.manager.SandboxManager` ties them together for the node agent;
:mod:`.sourcewatch` watches the ConfigMaps and Secrets the pods mount, so their updates
reach the volumes at once. (Memory limits: :mod:`kubesvc.runtime.cgroups`.)
"""
