"""dns: cluster DNS with the record semantics of CoreDNS's kubernetes plugin.

:mod:`.wire` parses and builds DNS messages (the fast path by hand, no per-query objects);
:mod:`.records` turns Service/EndpointSlice projections into precomputed wire-format answers;
:mod:`.source` keeps those projections current from informers; :mod:`.server` answers over
UDP and TCP and forwards names outside the cluster zone.
"""
