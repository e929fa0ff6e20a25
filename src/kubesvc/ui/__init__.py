"""The service map: a web UI the API server serves at ``/ui/`` (static files in
``static/``: Preact and htm vendored, no build step, nothing from a CDN). The page signs in
with a bearer token, lists and watches namespaces, Services, EndpointSlices, pods, nodes,
Events and Ingresses through the API as its user (RBAC applies), and reads traffic counters
from ``/ui/metrics`` (:mod:`kubesvc.apiserver.http.ui`)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
