"""informers: the client-go style machinery every component reads through.

:class:`Informer` lists then watches one resource through a ``Client`` and keeps an
:class:`Indexer` (a local cache with secondary indexes), calling handlers on changes;
:class:`WorkQueue` de-duplicates keys and retries with per-key exponential back-off;
:mod:`kubesvc.informers.worker` runs the ``get -> sync -> done`` worker loop over one.
"""

from __future__ import annotations

from kubesvc.informers.indexer import Indexer, object_key
from kubesvc.informers.informer import Informer
from kubesvc.informers.workqueue import WorkQueue

__all__ = ["Indexer", "Informer", "WorkQueue", "object_key"]
