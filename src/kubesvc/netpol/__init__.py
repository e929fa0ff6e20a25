"""NetworkPolicy enforcement in the kernel (netns mode): each node's agent programs one
nftables table of its own (``kubesvc-netpol``) in its node's namespace, judging every
forwarded packet to or from its pods.

:mod:`.model` projects API objects (policies, pods, namespaces) to slim frozen records;
:mod:`.render` is pure (model -> the table's fixed chains and the contents of its sets,
and the ``nft -f`` transaction from one state to the next, element adds and deletes);
:mod:`.controller` runs it from informers and applies transactions through a
:class:`~.controller.NftApply` seam (the nftables runner of the proxy, handed in by the CLI).
:mod:`.unenforced` is host mode's answer: a Warning Event on every NetworkPolicy, since
nothing there can enforce one.
"""
