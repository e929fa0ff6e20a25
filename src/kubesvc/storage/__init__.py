"""storage: the etcd-shaped ``Store`` protocol and its backends (memory, sqlite, etcd).

Callers (the API server's registry) use :func:`open_store` with a URL:
``memory://``, ``sqlite:///path/to/db`` (or a plain path), ``etcd://host:port[,host:port]``.
"""

from __future__ import annotations

from kubesvc.storage.factory import open_store
from kubesvc.storage.store import KeyValue, ListResult, Store, Watch, WatchEvent

__all__ = ["KeyValue", "ListResult", "Store", "Watch", "WatchEvent", "open_store"]
