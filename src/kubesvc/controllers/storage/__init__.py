"""Storage controllers: the PersistentVolume binder (upstream
``pkg/controller/volume/persistentvolume``) and the local-path provisioner behind the
default StorageClass (the idea of rancher/local-path-provisioner, as k3s ships it)."""

from __future__ import annotations

from kubesvc.controllers.storage.binder import PersistentVolumeController
from kubesvc.controllers.storage.localpath import PROVISIONER, host_path_for

__all__ = ["PROVISIONER", "PersistentVolumeController", "host_path_for"]
