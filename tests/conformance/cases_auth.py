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
