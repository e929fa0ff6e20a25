"""Structural schemas of Pod volumes (``spec.volumes[]``) and every volume source of
Kubernetes v1.32 (emptyDir, configMap, secret, projected, hostPath, csi, ephemeral, ...).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, I64, B, C, M, Q, S, arr, defn, qmap, ref, smap

defn(
    C + "Volume",
    {
        "awsElasticBlockStore": ref(C + "AWSElasticBlockStoreVolumeSource"),
        "azureDisk": ref(C + "AzureDiskVolumeSource"),
        "azureFile": ref(C + "AzureFileVolumeSource"),
        "cephfs": ref(C + "CephFSVolumeSource"),
        "cinder": ref(C + "CinderVolumeSource"),
        "configMap": ref(C + "ConfigMapVolumeSource"),
        "csi": ref(C + "CSIVolumeSource"),
        "downwardAPI": ref(C + "DownwardAPIVolumeSource"),
        "emptyDir": ref(C + "EmptyDirVolumeSource"),
        "ephemeral": ref(C + "EphemeralVolumeSource"),
        "fc": ref(C + "FCVolumeSource"),
        "flexVolume": ref(C + "FlexVolumeSource"),
        "flocker": ref(C + "FlockerVolumeSource"),
        "gcePersistentDisk": ref(C + "GCEPersistentDiskVolumeSource"),
        "gitRepo": ref(C + "GitRepoVolumeSource"),
        "glusterfs": ref(C + "GlusterfsVolumeSource"),
        "hostPath": ref(C + "HostPathVolumeSource"),
        "image": ref(C + "ImageVolumeSource"),
        "iscsi": ref(C + "ISCSIVolumeSource"),
        "name": S,
        "nfs": ref(C + "NFSVolumeSource"),
        "persistentVolumeClaim": ref(C + "PersistentVolumeClaimVolumeSource"),
        "photonPersistentDisk": ref(C + "PhotonPersistentDiskVolumeSource"),
        "portworxVolume": ref(C + "PortworxVolumeSource"),
        "projected": ref(C + "ProjectedVolumeSource"),
        "quobyte": ref(C + "QuobyteVolumeSource"),
        "rbd": ref(C + "RBDVolumeSource"),
        "scaleIO": ref(C + "ScaleIOVolumeSource"),
        "secret": ref(C + "SecretVolumeSource"),
        "storageos": ref(C + "StorageOSVolumeSource"),
        "vsphereVolume": ref(C + "VsphereVirtualDiskVolumeSource"),
    },
    required=("name",),
)

defn(
    C + "AWSElasticBlockStoreVolumeSource",
    {
        "fsType": S,
        "partition": I32,
        "readOnly": B,
        "volumeID": S,
    },
    required=("volumeID",),
)

defn(
    C + "AzureDiskVolumeSource",
    {
        "cachingMode": S,
        "diskName": S,
        "diskURI": S,
        "fsType": S,
        "kind": S,
        "readOnly": B,
    },
    required=("diskName", "diskURI"),
)

defn(
    C + "AzureFileVolumeSource",
    {
        "readOnly": B,
        "secretName": S,
        "shareName": S,
    },
    required=("secretName", "shareName"),
)

defn(
    C + "CephFSVolumeSource",
    {
        "monitors": arr(S),
        "path": S,
        "readOnly": B,
        "secretFile": S,
        "secretRef": ref(C + "LocalObjectReference"),
        "user": S,
    },
    required=("monitors",),
)

defn(
    C + "CinderVolumeSource",
    {
        "fsType": S,
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
        "volumeID": S,
    },
    required=("volumeID",),
)

defn(
    C + "ConfigMapVolumeSource",
    {
        "defaultMode": I32,
        "defaultUser": I32,
        "items": arr(ref(C + "KeyToPath")),
        "name": S,
        "optional": B,
    },
)

defn(C + "KeyToPath", {"key": S, "mode": I32, "path": S, "user": I32}, required=("key", "path"))

defn(
    C + "CSIVolumeSource",
    {
        "driver": S,
        "fsType": S,
        "nodePublishSecretRef": ref(C + "LocalObjectReference"),
        "readOnly": B,
        "volumeAttributes": smap,
    },
    required=("driver",),
)

defn(
    C + "DownwardAPIVolumeSource",
    {
        "defaultMode": I32,
        "defaultUser": I32,
        "items": arr(ref(C + "DownwardAPIVolumeFile")),
    },
)

defn(
    C + "DownwardAPIVolumeFile",
    {
        "fieldRef": ref(C + "ObjectFieldSelector"),
        "mode": I32,
        "path": S,
        "resourceFieldRef": ref(C + "ResourceFieldSelector"),
        "user": I32,
    },
    required=("path",),
)

defn(C + "EmptyDirVolumeSource", {"medium": S, "sizeLimit": Q})

defn(
    C + "EphemeralVolumeSource",
    {
        "volumeClaimTemplate": ref(C + "PersistentVolumeClaimTemplate"),
    },
)

defn(
    C + "PersistentVolumeClaimTemplate",
    {
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "PersistentVolumeClaimSpec"),
    },
    required=("spec",),
)

defn(
    C + "PersistentVolumeClaimSpec",
    {
        "accessModes": arr(S),
        "dataSource": ref(C + "TypedLocalObjectReference"),
        "dataSourceRef": ref(C + "TypedObjectReference"),
        "resources": ref(C + "VolumeResourceRequirements"),
        "selector": ref(M + "LabelSelector"),
        "storageClassName": S,
        "volumeAttributesClassName": S,
        "volumeMode": S,
        "volumeName": S,
    },
)

defn(
    C + "TypedLocalObjectReference",
    {
        "apiGroup": S,
        "kind": S,
        "name": S,
    },
    required=("kind", "name"),
)

defn(
    C + "TypedObjectReference",
    {
        "apiGroup": S,
        "kind": S,
        "name": S,
        "namespace": S,
    },
    required=("kind", "name"),
)

defn(C + "VolumeResourceRequirements", {"limits": qmap, "requests": qmap})

defn(
    C + "FCVolumeSource",
    {
        "fsType": S,
        "lun": I32,
        "readOnly": B,
        "targetWWNs": arr(S),
        "wwids": arr(S),
    },
)

defn(
    C + "FlexVolumeSource",
    {
        "driver": S,
        "fsType": S,
        "options": smap,
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
    },
    required=("driver",),
)

defn(C + "FlockerVolumeSource", {"datasetName": S, "datasetUUID": S})

defn(
    C + "GCEPersistentDiskVolumeSource",
    {
        "fsType": S,
        "partition": I32,
        "pdName": S,
        "readOnly": B,
    },
    required=("pdName",),
)

defn(
    C + "GitRepoVolumeSource",
    {
        "directory": S,
        "repository": S,
        "revision": S,
    },
    required=("repository",),
)

defn(
    C + "GlusterfsVolumeSource",
    {
        "endpoints": S,
        "path": S,
        "readOnly": B,
    },
    required=("endpoints", "path"),
)

defn(C + "HostPathVolumeSource", {"path": S, "type": S}, required=("path",))

defn(C + "ImageVolumeSource", {"pullPolicy": S, "reference": S})

defn(
    C + "ISCSIVolumeSource",
    {
        "chapAuthDiscovery": B,
        "chapAuthSession": B,
        "fsType": S,
        "initiatorName": S,
        "iqn": S,
        "iscsiInterface": S,
        "lun": I32,
        "portals": arr(S),
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
        "targetPortal": S,
    },
    required=("iqn", "lun", "targetPortal"),
)

defn(C + "NFSVolumeSource", {"path": S, "readOnly": B, "server": S}, required=("path", "server"))

defn(
    C + "PersistentVolumeClaimVolumeSource",
    {
        "claimName": S,
        "readOnly": B,
    },
    required=("claimName",),
)

defn(C + "PhotonPersistentDiskVolumeSource", {"fsType": S, "pdID": S}, required=("pdID",))

defn(
    C + "PortworxVolumeSource",
    {
        "fsType": S,
        "readOnly": B,
        "volumeID": S,
    },
    required=("volumeID",),
)

defn(
    C + "ProjectedVolumeSource",
    {
        "defaultMode": I32,
        "defaultUser": I32,
        "sources": arr(ref(C + "VolumeProjection")),
    },
)

defn(
    C + "VolumeProjection",
    {
        "clusterTrustBundle": ref(C + "ClusterTrustBundleProjection"),
        "configMap": ref(C + "ConfigMapProjection"),
        "downwardAPI": ref(C + "DownwardAPIProjection"),
        "secret": ref(C + "SecretProjection"),
        "serviceAccountToken": ref(C + "ServiceAccountTokenProjection"),
    },
)

defn(
    C + "ClusterTrustBundleProjection",
    {
        "labelSelector": ref(M + "LabelSelector"),
        "name": S,
        "optional": B,
        "path": S,
        "signerName": S,
    },
    required=("path",),
)

defn(C + "ConfigMapProjection", {"items": arr(ref(C + "KeyToPath")), "name": S, "optional": B})

defn(C + "DownwardAPIProjection", {"items": arr(ref(C + "DownwardAPIVolumeFile"))})

defn(C + "SecretProjection", {"items": arr(ref(C + "KeyToPath")), "name": S, "optional": B})

defn(
    C + "ServiceAccountTokenProjection",
    {
        "audience": S,
        "expirationSeconds": I64,
        "path": S,
    },
    required=("path",),
)

defn(
    C + "QuobyteVolumeSource",
    {
        "group": S,
        "readOnly": B,
        "registry": S,
        "tenant": S,
        "user": S,
        "volume": S,
    },
    required=("registry", "volume"),
)

defn(
    C + "RBDVolumeSource",
    {
        "fsType": S,
        "image": S,
        "keyring": S,
        "monitors": arr(S),
        "pool": S,
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
        "user": S,
    },
    required=("image", "monitors"),
)

defn(
    C + "ScaleIOVolumeSource",
    {
        "fsType": S,
        "gateway": S,
        "protectionDomain": S,
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
        "sslEnabled": B,
        "storageMode": S,
        "storagePool": S,
        "system": S,
        "volumeName": S,
    },
    required=("gateway", "secretRef", "system"),
)

defn(
    C + "SecretVolumeSource",
    {
        "defaultMode": I32,
        "defaultUser": I32,
        "items": arr(ref(C + "KeyToPath")),
        "optional": B,
        "secretName": S,
    },
)

defn(
    C + "StorageOSVolumeSource",
    {
        "fsType": S,
        "readOnly": B,
        "secretRef": ref(C + "LocalObjectReference"),
        "volumeName": S,
        "volumeNamespace": S,
    },
)

defn(
    C + "VsphereVirtualDiskVolumeSource",
    {
        "fsType": S,
        "storagePolicyID": S,
        "storagePolicyName": S,
        "volumePath": S,
    },
    required=("volumePath",),
)
