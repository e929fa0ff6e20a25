"""Every upstream case (ginkgo ``It``) in Kubernetes v1.32's
``test/e2e/auth/service_accounts.go``, in the shape of :mod:`.cases` (which appends these
to its list): the kubesvc test that ports it, or why it cannot apply yet. Pure data.
"""

from __future__ import annotations

from tests.conformance.cases import C, Case

SERVICE_ACCOUNTS = "test/e2e/auth/service_accounts.go"
_T = "test_service_accounts.py::test_"
_MOUNTS = ("needs the node agent to mount the projected ServiceAccount volume into the "
           "container and read files there (kubectl exec / agnhost mounttest); the pod spec "
           "side (admission) is covered by the automount case")


def _sa(it: str, tags: tuple[str, ...] = (), **kw: str) -> Case:
    return Case(f"[sig-auth] ServiceAccounts {it}", SERVICE_ACCOUNTS, tags, **kw)


AUTH_CASES: tuple[Case, ...] = (
    _sa("no secret-based service account token should be auto-generated",
        test=_T + "no_secret_based_service_account_token_should_be_auto_generated",
        note="waits 1 s where upstream waits 10 s for a token controller that must not act"),
    _sa("should mount an API token into pods", C, not_applicable=_MOUNTS),
    _sa("should allow opting out of API token automount", C,
        test=_T + "should_allow_opting_out_of_api_token_automount"),
    _sa("should mount projected service account token", C, not_applicable=_MOUNTS),
    _sa("should set ownership and permission when RunAsUser or FsGroup is present",
        ("LinuxOnly", "NodeFeature:FSGroup"),
        not_applicable=_MOUNTS + "; and runAsUser/fsGroup"),
    _sa("should support InClusterConfig with token rotation", ("Slow",),
        not_applicable="needs a pod with the mounted token using the in-cluster client "
                       "for 20 minutes while the kubelet rotates the token"),
    _sa("ServiceAccountIssuerDiscovery should support OIDC discovery of service account "
        "issuer", C, test=_T + "should_support_oidc_discovery_of_service_account_issuer",
        note="the validator upstream runs in a pod (agnhost "
             "test-service-account-issuer-discovery) runs in the test process, with a "
             "TokenRequest standing for the projected token"),
    _sa("should run through the lifecycle of a ServiceAccount", C,
        test=_T + "should_run_through_the_lifecycle_of_a_serviceaccount"),
    _sa("should guarantee kube-root-ca.crt exist in any namespace", C,
        test=_T + "should_guarantee_kube_root_ca_crt_exist_in_any_namespace"),
    _sa("should update a ServiceAccount", C, test=_T + "should_update_a_serviceaccount"),
    _sa("should create a serviceAccountToken and ensure a successful TokenReview", C,
        test=_T + "should_create_a_serviceaccounttoken_and_ensure_a_successful_tokenreview"),
)

# test/e2e/auth/node_authz.go (every It), and the Node authorizer / RBAC scenarios of
# test/integration/auth (node_test.go, rbac_test.go) ported as cases of their own
NODE_AUTHZ = "test/e2e/auth/node_authz.go"
_N = "test_node_authz.py::test_"
_NA = ("Feature:NodeAuthorizer",)
_IMPERSONATE = "the test acts as the node by impersonation, as upstream's e2e does"


def _na(it: str, test: str, file: str = NODE_AUTHZ, tags: tuple[str, ...] = _NA,
        note: str = _IMPERSONATE) -> Case:
    if file == NODE_AUTHZ:
        prefix = "[sig-auth] [Feature:NodeAuthorizer] "
    elif file.endswith("rbac_test.go"):
        prefix = "TestBootstrapping: "
    elif it.startswith("("):
        prefix = "TestNodeAuthorizer "
    else:
        prefix = "TestNodeAuthorizer: "
    return Case(prefix + it, file, tags, test=_N + test, note=note)


NODE_AUTHZ_CASES: tuple[Case, ...] = (
    _na("Getting a non-existent secret should exit with the Forbidden error, not a NotFound "
        "error", "getting_a_non_existent_secret_should_exit_with_the_forbidden_error"),
    _na("Getting an existing secret should exit with the Forbidden error",
        "getting_an_existing_secret_should_exit_with_the_forbidden_error"),
    _na("Getting a non-existent configmap should exit with the Forbidden error, not a "
        "NotFound error", "getting_a_non_existent_configmap_should_exit_with_the_forbidden_error"),
    _na("Getting an existing configmap should exit with the Forbidden error",
        "getting_an_existing_configmap_should_exit_with_the_forbidden_error"),
    _na("Getting a secret for a workload the node has access to should succeed",
        "getting_a_secret_for_a_workload_the_node_has_access_to_should_succeed"),
    _na("A node shouldn't be able to create another node",
        "a_node_shouldnt_be_able_to_create_another_node"),
    _na("A node shouldn't be able to delete another node",
        "a_node_shouldnt_be_able_to_delete_another_node"),
    _na("an unidentifiable node (\"system:node:\" in system:nodes) and a user of "
        "system:nodes without the node prefix get nothing",
        "node_authorizer_unidentifiable_node_is_forbidden",
        file="test/integration/auth/node_test.go", tags=()),
    _na("node1 cannot read what node2's pod references, node2 can",
        "node_authorizer_access_follows_pods_between_nodes",
        file="test/integration/auth/node_test.go", tags=()),
    _na("node2 creates itself and updates its status",
        "node_authorizer_mirror_pod_and_self_node_lifecycle",
        file="test/integration/auth/node_test.go", tags=()),
    _na("(node leases): a node may create and renew its own Lease in kube-node-lease",
        "node_authorizer_leases_only_own_in_kube_node_lease",
        file="test/integration/auth/node_test.go", tags=()),
    _na("the system:node ClusterRole exists with the node rules",
        "bootstrap_policy_binds_system_node_to_no_one",
        file="test/integration/auth/rbac_test.go", tags=(), note=""),
    _na("a node cannot delete a Service", "nodes_cannot_delete_services",
        file="test/integration/auth/node_test.go", tags=()),
    Case("[sig-node] Secrets should be consumable from pods in env vars",
         "test/e2e/common/node/secrets.go", ("NodeConformance", "Conformance"),
         test=_N + "secrets_should_be_consumable_from_pods_in_env_vars"),
)
