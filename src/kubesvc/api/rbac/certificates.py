"""The bootstrap RBAC policy of TLS bootstrapping (upstream's bootstrappolicy roles for
certificates.k8s.io, v1.32) and kubeadm's bindings of them, spelled for kubesvc's
bootstrap token group:

- ``system:node-bootstrapper``: create/get/list/watch CertificateSigningRequests, bound to
  ``system:bootstrappers:kubesvc:default-node-token`` (kubeadm's ``kubelet-bootstrap``)
  and to ``system:nodes`` (upstream grants nodes this through the Node authorizer's rules);
- ``system:certificates.k8s.io:certificatesigningrequests:nodeclient``: what the CSR
  approver checks (SubjectAccessReview on ``certificatesigningrequests/nodeclient``) to
  auto-approve a bootstrapping node's client certificate; bound to the bootstrap group
  (kubeadm's ``node-autoapprove-bootstrap``);
- ``...:selfnodeclient``: the same for a node renewing its own certificate; bound to
  ``system:nodes`` (kubeadm's ``node-autoapprove-certificate-rotation``).

Pure data; :mod:`.bootstrap` adds these to its lists.
"""

from __future__ import annotations

from kubesvc.api.bootstraptoken import DEFAULT_NODE_GROUP
from kubesvc.api.rbac.bootstrap import Obj, cluster_role, cluster_role_binding, group, rule

GROUP = "certificates.k8s.io"
NODE_BOOTSTRAPPER = "system:node-bootstrapper"
NODE_CLIENT = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
SELF_NODE_CLIENT = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"


def cluster_roles() -> list[Obj]:
    return [
        cluster_role(NODE_BOOTSTRAPPER, [
            rule(["create", "get", "list", "watch"], [GROUP], ["certificatesigningrequests"])]),
        cluster_role(NODE_CLIENT, [
            rule(["create"], [GROUP], ["certificatesigningrequests/nodeclient"])]),
        cluster_role(SELF_NODE_CLIENT, [
            rule(["create"], [GROUP], ["certificatesigningrequests/selfnodeclient"])]),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        cluster_role_binding("kubesvc:kubelet-bootstrap", NODE_BOOTSTRAPPER,
                             [group(DEFAULT_NODE_GROUP), group("system:nodes")]),
        cluster_role_binding("kubesvc:node-autoapprove-bootstrap", NODE_CLIENT,
                             [group(DEFAULT_NODE_GROUP)]),
        cluster_role_binding("kubesvc:node-autoapprove-certificate-rotation",
                             SELF_NODE_CLIENT, [group("system:nodes")]),
    ]
