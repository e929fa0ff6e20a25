"""Opening a store backend from its URL. Kept apart from :mod:`kubesvc.storage.store` (the
protocol every backend imports) so that no backend imports another, even indirectly.

Called by ``kubesvc up``/``kubesvc server`` (through :mod:`kubesvc.storage`); imports the
chosen backend lazily (etcd's client library loads only when asked for), and wraps it in
the encryption-at-rest layer when given an EncryptionConfiguration.
"""

from __future__ import annotations

from kubesvc.storage.store import Store


async def open_store(url: str, *, encryption_config: str | None = None) -> Store:
    """Open a backend from a URL: ``memory://``, ``sqlite:///abs/path.db`` or a path,
    ``etcd://host:port[,host:port...]``; with ``encryption_config`` (an
    EncryptionConfiguration file) wrapped in :class:`~.encrypted.EncryptedStore`."""
    if encryption_config:
        from pathlib import Path

        from kubesvc.storage.encrypted import EncryptedStore
        from kubesvc.storage.encryption import load_encryption_config

        config = load_encryption_config(Path(encryption_config))  # fail before opening
        return EncryptedStore(await open_store(url), config)
    if url.startswith("memory:"):
        from kubesvc.storage.memory import MemoryStore

        return MemoryStore()
    if url.startswith("etcd://"):
        from kubesvc.storage.etcd import EtcdStore

        return await EtcdStore.connect(url)
    from kubesvc.storage.sqlite import SqliteStore

    path = url.removeprefix("sqlite://") if url.startswith("sqlite://") else url
    return await SqliteStore.open(path)
