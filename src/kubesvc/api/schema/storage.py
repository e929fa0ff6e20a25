"""Structural schemas of core/v1 PersistentVolumeClaim and PersistentVolume and of
storage.k8s.io/v1 StorageClass (upstream k8s.io/api core/v1 and storage/v1 types.go,
v1.32). Only the volume sources this server provisions or accepts are declared on a PV
(``hostPath``, ``local``, ``nfs``, ``csi``); ``PersistentVolumeClaimSpec`` itself is in
:mod:`.volumes` (pods' ephemeral volumes use it too).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    B,
    C,
    M,
    S,
    T,
    arr,
    defn,
    mapof,
    qmap,
    ref,
    smap,
)

ST = "io.k8s.api.storage.v1."

defn(
    C + "PersistentVolumeClaim",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "PersistentVolumeClaimSpec"),
        "status": ref(C + "PersistentVolumeClaimStatus"),
    },
)

defn(
    C + "PersistentVolumeClaimStatus",
    {
        "accessModes": arr(S, list_type="atomic"),
        "allocatedResourceStatuses": mapof(S, map_type="granular"),
        "allocatedResources": qmap,
        "capacity": qmap,
        "conditions": arr(ref(C + "PersistentVolumeClaimCondition"), key="type",
                          strategy="merge", list_type="map", map_keys=("type",)),
        "currentVolumeAttributesClassName": S,
        "modifyVolumeStatus": ref(C + "ModifyVolumeStatus"),
        "phase": S,
    },
)

defn(C + "ModifyVolumeStatus", {"status": S, "targetVolumeAttributesClassName": S},
     required=("status",))

defn(
    C + "PersistentVolumeClaimCondition",
    {
        "lastProbeTime": T,
        "lastTransitionTime": T,
        "message": S,
        "reason": S,
        "status": S,
        "type": S,
    },
    required=("type", "status"),
)

defn(
    C + "PersistentVolume",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "PersistentVolumeSpec"),
        "status": ref(C + "PersistentVolumeStatus"),
    },
)

defn(
    C + "PersistentVolumeSpec",
    {
        "accessModes": arr(S, list_type="atomic"),
        "awsElasticBlockStore": ref(C + "AWSElasticBlockStoreVolumeSource"),
        "azureDisk": ref(C + "AzureDiskVolumeSource"),
        "azureFile": ref(C + "AzureFilePersistentVolumeSource"),
        "capacity": qmap,
        "cephfs": ref(C + "CephFSPersistentVolumeSource"),
        "cinder": ref(C + "CinderPersistentVolumeSource"),
        "claimRef": ref(C + "ObjectReference", map_type="granular"),
        "csi": ref(C + "CSIPersistentVolumeSource"),
        "fc": ref(C + "FCVolumeSource"),
        "flexVolume": ref(C + "FlexPersistentVolumeSource"),
        "flocker": ref(C + "FlockerVolumeSource"),
        "gcePersistentDisk": ref(C + "GCEPersistentDiskVolumeSource"),
        "glusterfs": ref(C + "GlusterfsPersistentVolumeSource"),
        "hostPath": ref(C + "HostPathVolumeSource"),
        "iscsi": ref(C + "ISCSIPersistentVolumeSource"),
        "local": ref(C + "LocalVolumeSource"),
        "mountOptions": arr(S, list_type="atomic"),
        "nfs": ref(C + "NFSVolumeSource"),
        "nodeAffinity": ref(C + "VolumeNodeAffinity"),
        "persistentVolumeReclaimPolicy": S,
        "photonPersistentDisk": ref(C + "PhotonPersistentDiskVolumeSource"),
        "portworxVolume": ref(C + "PortworxVolumeSource"),
        "quobyte": ref(C + "QuobyteVolumeSource"),
        "rbd": ref(C + "RBDPersistentVolumeSource"),
        "scaleIO": ref(C + "ScaleIOPersistentVolumeSource"),
        "storageClassName": S,
        "storageos": ref(C + "StorageOSPersistentVolumeSource"),
        "volumeAttributesClassName": S,
        "volumeMode": S,
        "vsphereVolume": ref(C + "VsphereVirtualDiskVolumeSource"),
    },
)

_SECRET = ref(C + "SecretReference", map_type="atomic")

defn(C + "SecretReference", {"name": S, "namespace": S}, map_type="atomic")

defn(
    C + "CSIPersistentVolumeSource",
    {
        "controllerExpandSecretRef": _SECRET,
        "controllerPublishSecretRef": _SECRET,
        "driver": S,
        "fsType": S,
        "nodeExpandSecretRef": _SECRET,
        "nodePublishSecretRef": _SECRET,
        "nodeStageSecretRef": _SECRET,
        "readOnly": B,
        "volumeAttributes": smap,
        "volumeHandle": S,
    },
    required=("driver", "volumeHandle"),
)

# The PV-only variants of the pod volume sources (secrets by namespaced reference).
defn(C + "AzureFilePersistentVolumeSource",
     {"readOnly": B, "secretName": S, "secretNamespace": S, "shareName": S},
     required=("secretName", "shareName"))
defn(C + "CephFSPersistentVolumeSource",
     {"monitors": arr(S, list_type="atomic"), "path": S, "readOnly": B, "secretFile": S,
      "secretRef": _SECRET, "user": S}, required=("monitors",))
defn(C + "CinderPersistentVolumeSource",
     {"fsType": S, "readOnly": B, "secretRef": _SECRET, "volumeID": S}, required=("volumeID",))
defn(C + "FlexPersistentVolumeSource",
     {"driver": S, "fsType": S, "options": smap, "readOnly": B, "secretRef": _SECRET},
     required=("driver",))
defn(C + "GlusterfsPersistentVolumeSource",
     {"endpoints": S, "endpointsNamespace": S, "path": S, "readOnly": B},
     required=("endpoints", "path"))
defn(C + "ISCSIPersistentVolumeSource",
     {"chapAuthDiscovery": B, "chapAuthSession": B, "fsType": S, "initiatorName": S, "iqn": S,
      "iscsiInterface": S, "lun": I32, "portals": arr(S, list_type="atomic"), "readOnly": B,
      "secretRef": _SECRET, "targetPortal": S}, required=("targetPortal", "iqn", "lun"))
defn(C + "RBDPersistentVolumeSource",
     {"fsType": S, "image": S, "keyring": S, "monitors": arr(S, list_type="atomic"),
      "pool": S, "readOnly": B, "secretRef": _SECRET, "user": S},
     required=("monitors", "image"))
defn(C + "ScaleIOPersistentVolumeSource",
     {"fsType": S, "gateway": S, "protectionDomain": S, "readOnly": B, "secretRef": _SECRET,
      "sslEnabled": B, "storageMode": S, "storagePool": S, "system": S, "volumeName": S},
     required=("gateway", "system", "secretRef"))
defn(C + "StorageOSPersistentVolumeSource",
     {"fsType": S, "readOnly": B, "secretRef": ref(C + "ObjectReference"), "volumeName": S,
      "volumeNamespace": S})

defn(C + "LocalVolumeSource", {"fsType": S, "path": S}, required=("path",))

defn(C + "VolumeNodeAffinity", {"required": ref(C + "NodeSelector")})

defn(
    C + "PersistentVolumeStatus",
    {"lastPhaseTransitionTime": T, "message": S, "phase": S, "reason": S},
)

defn(
    ST + "StorageClass",
    {
        "allowVolumeExpansion": B,
        "allowedTopologies": arr(ref(C + "TopologySelectorTerm"), list_type="atomic"),
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "mountOptions": arr(S, list_type="atomic"),
        "parameters": smap,
        "provisioner": S,
        "reclaimPolicy": S,
        "volumeBindingMode": S,
    },
    required=("provisioner",),
)

defn(
    C + "TopologySelectorTerm",
    {"matchLabelExpressions": arr(ref(C + "TopologySelectorLabelRequirement"),
                                  list_type="atomic")},
)

defn(
    C + "TopologySelectorLabelRequirement",
    {"key": S, "values": arr(S, list_type="atomic")},
    required=("key", "values"),
)
