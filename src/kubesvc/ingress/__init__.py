"""ingress: the ingress controller of class ``kubesvc`` with HAProxy as the data plane.

:mod:`.render` turns (Ingresses, Services, EndpointSlices, Secrets, IngressClasses) into an
``haproxy.cfg`` and its certificate files (a pure function, tested against golden files);
:mod:`.haproxy` runs HAProxy in master-worker mode and reloads it hitlessly;
:mod:`.controller` watches the objects through informers, renders, applies, writes each
Ingress's ``status.loadBalancer`` and records Events for what it cannot serve.
"""

from __future__ import annotations
