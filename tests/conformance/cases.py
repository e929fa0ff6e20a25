"""Every upstream case (ginkgo ``It``) in Kubernetes v1.32's ``test/e2e/network/service.go``,
``dns.go``, ``endpointslice.go`` and ``endpointslicemirroring.go`` (and, from
:mod:`.cases_auth`, ``test/e2e/auth/service_accounts.go`` and the node authorizer's; the
[Conformance] cases of ``test/e2e/apps`` job.go, cronjob.go, daemon_set.go, rc.go and
disruption.go that are ported; storage, StatefulSet and exec cases): its full name, file and
tags, the kubesvc test that ports it (``module::function`` under tests/conformance), or why
it cannot apply to kubesvc, or that it is not ported yet.

Read by ``scripts/conformance_report.py`` (which joins it with a junit XML run of this suite
to write docs/conformance.md) and by ``test_cases.py`` (which keeps this list and the test
functions in step). Pure data; imports nothing from kubesvc.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE = "test/e2e/network/service.go"
DNS = "test/e2e/network/dns.go"
SLICE = "test/e2e/network/endpointslice.go"
MIRROR = "test/e2e/network/endpointslicemirroring.go"
# issue 21: the [Conformance] cases of test/e2e/apps that kubesvc ports (only those)
JOB = "test/e2e/apps/job.go"
CRONJOB = "test/e2e/apps/cronjob.go"
DAEMON = "test/e2e/apps/daemon_set.go"
RC = "test/e2e/apps/rc.go"
DISRUPTION = "test/e2e/apps/disruption.go"
W = "test_workloads.py::test_"


def _apps(describe: str, it: str, file: str, test: str, **kw: str) -> Case:
    return Case(f"[sig-apps] {describe} {it}", file, C, test=W + test, **kw)

NOT_PORTED = "not [Conformance]-tagged; not ported to this suite yet"
FAST_CRON_NOTE = ("on a cluster of its own whose CronJob controller clock runs 60x "
                  "(`kubesvc up --cronjob-clock-rate 60`): the minute schedule fires every "
                  "second and upstream's 5-minute waits take 5 s")


@dataclass(frozen=True)
class Case:
    name: str  # "[sig-network] <Describe> <It text>" with the tags upstream puts in it
    file: str
    tags: tuple[str, ...] = ()
    test: str = ""  # "test_module.py::test_function" when ported
    not_applicable: str = ""  # why the case cannot apply to kubesvc
    not_ported: str = ""  # why it has no test yet (never for [Conformance] cases)
    note: str = ""  # how the port differs from upstream, if it does

    @property
    def conformance(self) -> bool:
        return "Conformance" in self.tags


def _svc(it: str, tags: tuple[str, ...] = (), **kw: str) -> Case:
    return Case(f"[sig-network] Services {it}", SERVICE, tags, **kw)


def _dns(it: str, tags: tuple[str, ...] = (), describe: str = "DNS", **kw: str) -> Case:
    return Case(f"[sig-network] {describe} {it}", DNS, tags, **kw)


def _slice(it: str, tags: tuple[str, ...] = (), **kw: str) -> Case:
    return Case(f"[sig-network] EndpointSlice {it}", SLICE, tags, **kw)


C = ("Conformance",)
CL = ("LinuxOnly", "Conformance")
S = "test_service.py::test_"
A = "test_service_affinity.py::test_"
API = "test_service_api.py::test_"
X = "test_service_extra.py::test_"
D = "test_dns.py::test_"
DP = "test_dns_pods.py::test_"
E = "test_endpointslice.py::test_"
M = "test_endpointslicemirroring.py::test_"
MN = "test_service_multinode.py::test_"
NETNS_NOTE = ("runs in the pod's own namespaces on a netns-mode cluster (root), probing "
              "with nsenter; skipped when not root")
TWO_NODE_NOTE = ("on a 2-node netns-mode cluster (root), pods bound to nodes by nodeName, "
                 "run in their network namespace with nsenter; skipped when not root")
ROUNDS_NOTE = (TWO_NODE_NOTE + "; 3 rounds of checks 1 s apart (upstream: 5, 5 s apart), "
               "connections that must fail given 2 s (upstream: 5 s)")
AFFINITY_NOTE = ("3 serve-hostname pods, requests from the node; the timeout cases use a "
                 "4 s ClientIP timeout instead of upstream's 125 s")

CASES: tuple[Case, ...] = (
    # -- service.go ------------------------------------------------------------------
    _svc("should provide secure master service", C,
         test=S + "should_provide_secure_master_service"),
    _svc("should serve a basic endpoint from pods", C,
         test=S + "should_serve_a_basic_endpoint_from_pods"),
    _svc("should serve multiport endpoints from pods", C,
         test=S + "should_serve_multiport_endpoints_from_pods"),
    _svc("should be updated after adding or deleting ports",
         test=X + "should_be_updated_after_adding_or_deleting_ports"),
    _svc("should preserve source pod IP for traffic thru service cluster IP", ("LinuxOnly",),
         test=MN + "should_preserve_source_pod_ip_for_traffic_thru_service_cluster_ip",
         note=TWO_NODE_NOTE + "; a pause pod bound to each node where upstream spreads a "
                              "pause Deployment by anti-affinity"),
    _svc("should allow pods to hairpin back to themselves through services",
         test=X + "should_allow_pods_to_hairpin_back_to_themselves_through_services"),
    _svc("should be able to up and down services",
         test=X + "should_be_able_to_up_and_down_services"),
    _svc("should work after the service has been recreated",
         test=X + "should_work_after_the_service_has_been_recreated"),
    _svc("should work after restarting kube-proxy", ("Disruptive",),
         not_applicable="restarts kube-proxy pods in kube-system; kubesvc's proxy is not a "
                        "pod (upstream skips it when kube-proxy does not run as pods)"),
    _svc("should work after restarting apiserver", ("Disruptive",),
         not_applicable="restarts kube-apiserver static pods; kubesvc's API server is not a "
                        "pod (upstream skips it the same way)"),
    _svc("should be able to create a functioning NodePort service", C,
         test=S + "should_be_able_to_create_a_functioning_nodeport_service"),
    _svc("should be possible to connect to a service via ExternalIP when the external IP is "
         "not assigned to a node",
         test=X + "should_be_possible_to_connect_to_a_service_via_externalip_when_the_"
                  "external_ip_is_not_assigned_to_a_node",
         note="external IP 127.203.0.250 instead of 203.0.113.250: traffic stays on "
              "loopback (project network rule)"),
    _svc("should be able to update service type to NodePort listening on same port number "
         "but different protocols",
         test=X + "should_be_able_to_update_service_type_to_nodeport_listening_on_same_port_"
                  "number_but_different_protocols"),
    _svc("should be able to change the type from ExternalName to ClusterIP", C,
         test=S + "should_be_able_to_change_the_type_from_externalname_to_clusterip"),
    _svc("should be able to change the type from ExternalName to NodePort", C,
         test=S + "should_be_able_to_change_the_type_from_externalname_to_nodeport"),
    _svc("should be able to change the type from ClusterIP to ExternalName", C,
         test=S + "should_be_able_to_change_the_type_from_clusterip_to_externalname"),
    _svc("should be able to change the type from NodePort to ExternalName", C,
         test=S + "should_be_able_to_change_the_type_from_nodeport_to_externalname"),
    _svc("should prevent NodePort collisions", test=X + "should_prevent_nodeport_collisions"),
    _svc("should check NodePort out-of-range", test=X + "should_check_nodeport_out_of_range"),
    _svc("should release NodePorts on delete", test=X + "should_release_nodeports_on_delete"),
    _svc("should create endpoints for unready pods",
         test=X + "should_create_endpoints_for_unready_pods",
         note="a bare pod where upstream scales a ReplicationController to zero"),
    _svc("should be able to connect to terminating and unready endpoints if "
         "PublishNotReadyAddresses is true",
         test=MN + "should_be_able_to_connect_to_terminating_and_unready_endpoints_if_"
                   "publishnotreadyaddresses_is_true",
         note=ROUNDS_NOTE + "; readiness probed every 1 s (upstream: 10 s)"),
    _svc("should not be able to connect to terminating and unready endpoints if "
         "PublishNotReadyAddresses is false",
         test=MN + "should_not_be_able_to_connect_to_terminating_and_unready_endpoints_if_"
                   "publishnotreadyaddresses_is_false",
         note=ROUNDS_NOTE + "; readiness probed every 1 s (upstream: 10 s)"),
    _svc("should have session affinity work for service with type clusterIP", CL,
         test=A + "should_have_session_affinity_work_for_service_with_type_clusterip",
         note=AFFINITY_NOTE),
    _svc("should have session affinity timeout work for service with type clusterIP",
         ("LinuxOnly",),
         test=A + "should_have_session_affinity_timeout_work_for_service_with_type_clusterip",
         note=AFFINITY_NOTE),
    _svc("should be able to switch session affinity for service with type clusterIP", CL,
         test=A + "should_be_able_to_switch_session_affinity_for_service_with_type_clusterip",
         note=AFFINITY_NOTE),
    _svc("should have session affinity work for NodePort service", CL,
         test=A + "should_have_session_affinity_work_for_nodeport_service",
         note=AFFINITY_NOTE),
    _svc("should have session affinity timeout work for NodePort service", ("LinuxOnly",),
         test=A + "should_have_session_affinity_timeout_work_for_nodeport_service",
         note=AFFINITY_NOTE),
    _svc("should be able to switch session affinity for NodePort service", CL,
         test=A + "should_be_able_to_switch_session_affinity_for_nodeport_service",
         note=AFFINITY_NOTE),
    _svc("should implement service.kubernetes.io/service-proxy-name",
         test=X + "should_implement_service_kubernetes_io_service_proxy_name"),
    _svc("should implement service.kubernetes.io/headless",
         test=X + "should_implement_service_kubernetes_io_headless"),
    _svc("should be rejected when no endpoints exist",
         test=S + "should_be_rejected_when_no_endpoints_exist"),
    _svc("should be rejected for evicted pods (no endpoints exist)",
         not_applicable="needs the kubelet to evict a pod for ephemeral-storage use; "
                        "kubesvc's node agent has no eviction manager"),
    _svc("should respect internalTrafficPolicy=Local Pod to Pod",
         test=MN + "should_respect_internaltrafficpolicy_local_pod_to_pod", note=ROUNDS_NOTE),
    _svc("should respect internalTrafficPolicy=Local Pod (hostNetwork: true) to Pod",
         test=MN + "should_respect_internaltrafficpolicy_local_pod_hostnetwork_true_to_pod",
         note=ROUNDS_NOTE + "; hostNetwork pods probed from their node's namespace"),
    _svc("should respect internalTrafficPolicy=Local Pod and Node, to Pod (hostNetwork: true)",
         test=MN + "should_respect_internaltrafficpolicy_local_pod_and_node_to_pod_"
                   "hostnetwork_true",
         note=ROUNDS_NOTE + "; hostNetwork pods probed from their node's namespace"),
    _svc("should fail health check node port if there are only terminating endpoints",
         test=MN + "should_fail_health_check_node_port_if_there_are_only_terminating_"
                   "endpoints", note=TWO_NODE_NOTE),
    _svc("should fallback to terminating endpoints when there are no ready endpoints with "
         "internalTrafficPolicy=Cluster",
         test=MN + "should_fallback_to_terminating_endpoints_when_there_are_no_ready_"
                   "endpoints_with_internaltrafficpolicy_cluster", note=ROUNDS_NOTE),
    _svc("should fallback to local terminating endpoints when there are no ready endpoints "
         "with internalTrafficPolicy=Local",
         test=MN + "should_fallback_to_local_terminating_endpoints_when_there_are_no_ready_"
                   "endpoints_with_internaltrafficpolicy_local", note=ROUNDS_NOTE),
    _svc("should fallback to terminating endpoints when there are no ready endpoints with "
         "externallTrafficPolicy=Cluster",
         test=MN + "should_fallback_to_terminating_endpoints_when_there_are_no_ready_"
                   "endpoints_with_externalltrafficpolicy_cluster", note=ROUNDS_NOTE),
    _svc("should fallback to local terminating endpoints when there are no ready endpoints "
         "with externalTrafficPolicy=Local",
         test=MN + "should_fallback_to_local_terminating_endpoints_when_there_are_no_ready_"
                   "endpoints_with_externaltrafficpolicy_local", note=ROUNDS_NOTE),
    _svc("should find a service from listing all namespaces", C,
         test=API + "should_find_a_service_from_listing_all_namespaces"),
    _svc("should test the lifecycle of an Endpoint", C,
         test=API + "should_test_the_lifecycle_of_an_endpoint"),
    _svc("should complete a service status lifecycle", C,
         test=API + "should_complete_a_service_status_lifecycle",
         note="the status condition is sent with a lastTransitionTime"),
    _svc("should delete a collection of services", C,
         test=API + "should_delete_a_collection_of_services"),
    _svc("should serve endpoints on same port and different protocols", C,
         test=S + "should_serve_endpoints_on_same_port_and_different_protocols"),
    _svc("should serve endpoints on same port and different protocol for internal traffic "
         "on Type LoadBalancer",
         test=X + "should_serve_endpoints_on_same_port_and_different_protocol_for_internal_"
                  "traffic_on_type_loadbalancer"),
    _svc("should allow creating a basic SCTP service with pod and endpoints",
         ("LinuxOnly", "Serial"),
         test=X + "should_allow_creating_a_basic_sctp_service_with_pod_and_endpoints",
         note="the sctp kernel-module checks on nodes do not apply (no node hosts to probe)"),
    # -- dns.go ----------------------------------------------------------------------
    _dns("should provide DNS for the cluster", C,
         test=D + "should_provide_dns_for_the_cluster"),
    _dns("should provide DNS for the cluster [Provider:GCE]", ("Provider:GCE",),
         not_applicable="GCE only: resolves google.com and the GCE metadata server, outside "
                        "this machine"),
    _dns("should resolve DNS of partial qualified names for the cluster", ("LinuxOnly",),
         test=D + "should_resolve_dns_of_partial_qualified_names_for_the_cluster",
         note="the DNS names only; its /etc/hosts names are the /etc/hosts case's"),
    _dns("should provide /etc/hosts entries for the cluster", C,
         test=DP + "should_provide_etc_hosts_entries_for_the_cluster", note=NETNS_NOTE),
    _dns("should provide DNS for services", C, test=D + "should_provide_dns_for_services"),
    _dns("should resolve DNS of partial qualified names for services", CL,
         test=D + "should_resolve_dns_of_partial_qualified_names_for_services",
         note="names resolved through a stub resolver with a ClusterFirst pod's search path"),
    _dns("should provide DNS for pods for Hostname", C,
         test=D + "should_provide_dns_for_pods_for_hostname",
         note="the FQDN via DNS; the bare hostname comes from /etc/hosts (netns case)"),
    _dns("should provide DNS for pods for Subdomain", C,
         test=D + "should_provide_dns_for_pods_for_subdomain"),
    _dns("should provide DNS for ExternalName services", C,
         test=D + "should_provide_dns_for_externalname_services"),
    _dns("should support configurable pod DNS nameservers", C,
         test=DP + "should_support_configurable_pod_dns_nameservers", note=NETNS_NOTE),
    _dns("should support configurable pod resolv.conf",
         not_applicable="runs a CoreDNS server pod (registry.k8s.io/coredns image); kubesvc "
                        "has no runner for that image"),
    _dns("should work with the pod containing more than 6 DNS search paths and longer than "
         "256 search list characters",
         test=DP + "should_work_with_the_pod_containing_more_than_6_dns_search_paths_and_"
                   "longer_than_256_search_list_characters", note=NETNS_NOTE),
    _dns("should work with a search path containing an underscore and a search path with a "
         "single dot",
         test=DP + "should_work_with_a_search_path_containing_an_underscore_and_a_search_"
                   "path_with_a_single_dot",
         note=NETNS_NOTE + "; behind the RelaxedDNSSearchValidation feature gate in v1.32"),
    _dns("should resolve DNS of partial qualified names for services on hostNetwork pods "
         "with dnsPolicy: ClusterFirstWithHostNet", ("LinuxOnly",), describe="DNS HostNetwork",
         test=DP + "should_resolve_dns_of_partial_qualified_names_for_services_on_"
                   "hostnetwork_pods_with_dnspolicy_clusterfirstwithhostnet",
         note=NETNS_NOTE),
    _dns("spec.Hostname field is not silently ignored and is used for hostname for a Pod",
         describe="DNS HostNetwork",
         test=DP + "spec_hostname_field_is_not_silently_ignored_and_is_used_for_hostname_"
                   "for_a_pod", note=NETNS_NOTE),
    _dns("spec.Hostname field is silently ignored and the node hostname is used when "
         "hostNetwork is set to true for a Pod", describe="DNS HostNetwork",
         test=DP + "spec_hostname_field_is_silently_ignored_and_the_node_hostname_is_used_"
                   "when_hostnetwork_is_set_to_true_for_a_pod",
         note="host mode; enters the pod's namespaces with nsenter (root)"),
    # -- endpointslice.go ------------------------------------------------------------
    _slice("should have Endpoints and EndpointSlices pointing to API Server", C,
           test=E + "should_have_endpoints_and_endpointslices_pointing_to_api_server"),
    _slice("should create and delete Endpoints and EndpointSlices for a Service with a "
           "selector specified", C,
           test=E + "should_create_and_delete_endpoints_and_endpointslices_for_a_service_"
                    "with_a_selector_specified"),
    _slice("should create Endpoints and EndpointSlices for Pods matching a Service", C,
           test=E + "should_create_endpoints_and_endpointslices_for_pods_matching_a_service",
           note="agnhost pause pods stand in for upstream's nginx pods"),
    _slice("should support creating EndpointSlice API operations", C,
           test=E + "should_support_creating_endpointslice_api_operations"),
    _slice("should support a Service with multiple ports specified in multiple "
           "EndpointSlices",
           test=E + "should_support_a_service_with_multiple_ports_specified_in_multiple_"
                    "endpointslices"),
    _slice("should support a Service with multiple endpoint IPs specified in multiple "
           "EndpointSlices",
           test=E + "should_support_a_service_with_multiple_endpoint_ips_specified_in_"
                    "multiple_endpointslices"),
    # -- endpointslicemirroring.go ---------------------------------------------------
    Case("[sig-network] EndpointSliceMirroring should mirror a custom Endpoints resource "
         "through create update and delete", MIRROR, C,
         test=M + "should_mirror_a_custom_endpoints_resource_through_create_update_and_"
                  "delete"),
    Case("[sig-network] EndpointSliceMirroring should mirror a custom Endpoint with "
         "multiple subsets and same IP address", MIRROR,
         test=M + "should_mirror_a_custom_endpoint_with_multiple_subsets_and_same_ip_"
                  "address"),
    # -- test/e2e/apps (issue 21): ported [Conformance] cases ---------------------
    Case("[sig-apps] Job should run a job to completion with CPU requests", JOB, ("Serial",),
         test=W + "job_should_run_a_job_to_completion_with_cpu_requests",
         note="v1.32 tags it [Serial], not [Conformance]"),
    _apps('Job', 'should run a job to completion when tasks sometimes fail and are locally '
          'restarted', JOB,
          'job_should_run_a_job_to_completion_when_tasks_sometimes_fail_and_are_locally_'
          'restarted'),
    _apps('Job', 'should delete a job',
          JOB, 'job_should_delete_a_job'),
    _apps('Job', 'should create pods for an Indexed job with completion '
          'indexes and specified hostname',
          JOB, 'job_should_create_pods_for_an_indexed_job'),
    _apps('Job', 'should apply changes to a job status',
          JOB, 'job_should_apply_changes_to_a_job_status'),
    _apps('Job', 'should manage the lifecycle of a job',
          JOB, 'job_should_manage_the_lifecycle_of_a_job'),
    _apps('Job', 'should adopt matching orphans and release non-matching pods',
          JOB, 'job_should_adopt_matching_orphans_and_release_non_matching_pods'),
    _apps('CronJob', 'should support CronJob API operations',
          CRONJOB, 'cronjob_should_support_cronjob_api_operations'),
    _apps('CronJob', 'should schedule multiple jobs concurrently', CRONJOB,
          'cronjob_should_schedule_multiple_jobs_concurrently', note=FAST_CRON_NOTE),
    _apps('CronJob', 'should not schedule jobs when suspended [Slow]', CRONJOB,
          'cronjob_should_not_schedule_jobs_when_suspended', note=FAST_CRON_NOTE),
    _apps('CronJob', 'should not schedule new jobs when ForbidConcurrent [Slow]', CRONJOB,
          'cronjob_should_not_schedule_new_jobs_when_forbidconcurrent', note=FAST_CRON_NOTE),
    _apps('CronJob', 'should replace jobs when ReplaceConcurrent', CRONJOB,
          'cronjob_should_replace_jobs_when_replaceconcurrent', note=FAST_CRON_NOTE),
    _apps('Daemon set [Serial]', 'should run and stop simple daemon',
          DAEMON, 'daemonset_should_run_and_stop_simple_daemon'),
    _apps('Daemon set [Serial]', 'should retry creating failed daemon pods',
          DAEMON, 'daemonset_should_retry_creating_failed_daemon_pods'),
    _apps('Daemon set [Serial]', 'should update pod when spec was updated and update strategy '
          'is RollingUpdate',
          DAEMON, 'daemonset_rolling_update'),
    _apps('Daemon set [Serial]', 'should list and delete a collection of DaemonSets',
          DAEMON, 'daemonset_should_list_and_delete_a_collection'),
    _apps('Daemon set [Serial]', 'should verify changes to a daemon set status',
          DAEMON, 'daemonset_should_verify_changes_to_a_daemon_set_status'),
    _apps('ReplicationController', 'should get and update a ReplicationController scale',
          RC, 'rc_should_get_and_update_a_replication_controller_scale'),
    _apps('ReplicationController', 'should adopt matching pods on creation',
          RC, 'rc_should_adopt_matching_pods_on_creation'),
    _apps('ReplicationController', 'should release no longer matching pods',
          RC, 'rc_should_release_no_longer_matching_pods'),
    _apps('DisruptionController', 'should list and delete a collection of PodDisruptionBudgets',
          DISRUPTION, 'disruption_should_list_and_delete_a_collection'),
    _apps('DisruptionController', 'should create a PodDisruptionBudget',
          DISRUPTION, 'disruption_should_create_a_pdb'),
    _apps('DisruptionController', 'should observe PodDisruptionBudget status updated',
          DISRUPTION, 'disruption_should_observe_pdb_status_updated'),
    _apps('DisruptionController', 'should update/patch PodDisruptionBudget status',
          DISRUPTION, 'disruption_should_observe_status_and_update_patch'),
    _apps('DisruptionController', 'should block an eviction until the PDB is updated to allow '
          'it',
          DISRUPTION, 'disruption_should_block_an_eviction_until_the_pdb_allows_it'),
    _apps('ReplicationController', 'should serve a basic image on each replica with a public '
          'image', RC, 'rc_should_serve_a_basic_image_on_each_replica'),
    _apps('ReplicationController', 'should test the lifecycle of a ReplicationController',
          RC, 'rc_should_test_the_lifecycle_of_a_replication_controller'),
    _apps('Daemon set [Serial]', 'should run and stop complex daemon',
          DAEMON, 'daemonset_should_run_and_stop_complex_daemon'),
    _apps('Daemon set [Serial]', 'should rollback without unnecessary restarts',
          DAEMON, 'daemonset_should_rollback_without_unnecessary_restarts'),
)

# test/e2e/auth/service_accounts.go, kept in its own module (it needs Case and C above)
from tests.conformance.cases_auth import AUTH_CASES, NODE_AUTHZ_CASES  # noqa: E402

CASES = CASES + AUTH_CASES + NODE_AUTHZ_CASES


# -- test/e2e/common/storage (the node agent's pod sandbox) ------------------------------
ST = "test_storage.py::test_"
NC = ("NodeConformance", "Conformance")
LNC = ("LinuxOnly", "NodeConformance", "Conformance")
MOUNTTEST_NOTE = "sh with cat/stat/od in a busybox-mapped pod instead of agnhost mounttest"


def _st(describe: str, file: str, it: str, tags: tuple[str, ...], test: str,
        note: str = MOUNTTEST_NOTE) -> Case:
    return Case(f"[sig-storage] {describe} {it}", f"test/e2e/common/storage/{file}", tags,
                test=ST + test, note=note)


STORAGE_CASES: tuple[Case, ...] = (
    _st("ConfigMap", "configmap_volume.go", "should be consumable from pods in volume", NC,
        "configmap_should_be_consumable_from_pods_in_volume"),
    _st("ConfigMap", "configmap_volume.go",
        "should be consumable from pods in volume with defaultMode set", LNC,
        "configmap_should_be_consumable_from_pods_in_volume_with_defaultmode_set"),
    _st("ConfigMap", "configmap_volume.go", "should be consumable from pods in volume as "
        "non-root", NC, "configmap_should_be_consumable_from_pods_in_volume_as_non_root"),
    _st("ConfigMap", "configmap_volume.go", "should be consumable from pods in volume with "
        "mappings", NC, "configmap_should_be_consumable_from_pods_in_volume_with_mappings"),
    _st("ConfigMap", "configmap_volume.go", "should be consumable from pods in volume with "
        "mappings and Item mode set", LNC,
        "configmap_should_be_consumable_from_pods_in_volume_with_mappings_and_item_mode_set"),
    _st("ConfigMap", "configmap_volume.go", "binary data should be reflected in volume", NC,
        "configmap_binary_data_should_be_reflected_in_volume"),
    _st("ConfigMap", "configmap_volume.go", "should be consumable in multiple volumes in the "
        "same pod", NC, "configmap_should_be_consumable_in_multiple_volumes_in_the_same_pod"),
    _st("ConfigMap", "configmap_volume.go", "updates should be reflected in volume", NC,
        "configmap_updates_should_be_reflected_in_volume",
        note="the agent's volume sync runs every 5 s (the kubelet's sync period is 1 min)"),
    _st("Secrets", "secrets_volume.go", "should be consumable from pods in volume", NC,
        "secrets_should_be_consumable_from_pods_in_volume"),
    _st("Secrets", "secrets_volume.go", "should be consumable from pods in volume with "
        "defaultMode set", LNC,
        "secrets_should_be_consumable_from_pods_in_volume_with_defaultmode_set"),
    _st("Secrets", "secrets_volume.go", "should be consumable from pods in volume as non-root "
        "with defaultMode and fsGroup set", LNC,
        "secrets_should_be_consumable_from_pods_in_volume_as_non_root_with_defaultmode_and_"
        "fsgroup_set"),
    _st("Secrets", "secrets_volume.go", "should be consumable from pods in volume with "
        "mappings", NC, "secrets_should_be_consumable_from_pods_in_volume_with_mappings"),
    _st("Secrets", "secrets_volume.go", "should be able to mount in a volume regardless of a "
        "different secret existing with same name in different namespace", NC,
        "secrets_should_be_able_to_mount_in_a_volume_regardless_of_a_different_secret_"
        "existing_with_same_name_in_different_namespace"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide podname only", NC,
        "downward_api_volume_should_provide_podname_only"),
    _st("Downward API volume", "downwardapi_volume.go", "should set DefaultMode on files",
        LNC, "downward_api_volume_should_set_defaultmode_on_files"),
    _st("Downward API volume", "downwardapi_volume.go", "should set mode on item file", LNC,
        "downward_api_volume_should_set_mode_on_item_file"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide container's cpu "
        "limit", NC, "downward_api_volume_should_provide_containers_cpu_limit"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide container's memory "
        "limit", NC, "downward_api_volume_should_provide_containers_memory_limit"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide container's cpu "
        "request", NC, "downward_api_volume_should_provide_containers_cpu_request"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide container's memory "
        "request", NC, "downward_api_volume_should_provide_containers_memory_request"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide node allocatable "
        "(cpu) as default cpu limit if the limit is not set", NC,
        "downward_api_volume_should_provide_node_allocatable_cpu_as_default_cpu_limit_if_"
        "the_limit_is_not_set"),
    _st("Downward API volume", "downwardapi_volume.go", "should update labels on "
        "modification", NC, "downward_api_volume_should_update_labels_on_modification"),
    _st("Projected combined", "projected_combined.go", "should project all components that "
        "make up the projection API", ("Projection", "NodeConformance", "Conformance"),
        "projected_combined_should_project_all_components_that_make_up_the_projection_api"),
    _st("Projected configMap", "projected_configmap.go", "should be consumable from pods in "
        "volume", NC, "projected_configmap_should_be_consumable_from_pods_in_volume"),
    _st("Projected secret", "projected_secret.go", "should be consumable from pods in volume "
        "with defaultMode set", LNC,
        "projected_secret_should_be_consumable_from_pods_in_volume_with_defaultmode_set"),
    _st("EmptyDir volumes", "empty_dir.go", "volume on tmpfs should have the correct mode",
        LNC, "emptydir_volumes_volume_on_tmpfs_should_have_the_correct_mode"),
    _st("EmptyDir volumes", "empty_dir.go", "volume on default medium should have the "
        "correct mode", LNC,
        "emptydir_volumes_volume_on_default_medium_should_have_the_correct_mode"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0644,tmpfs)", LNC,
        "emptydir_volumes_should_support_non_root_0644_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "pod should support shared volumes between "
        "containers", ("Conformance",), "emptydir_volumes_pod_should_support_shared_volumes_"
        "between_containers",
        note="the second container reads the file with its own command instead of kubectl "
             "exec"),
    _st("ConfigMap", "configmap_volume.go", "should be consumable from pods in volume with "
        "mappings as non-root", NC,
        "configmap_should_be_consumable_from_pods_in_volume_with_mappings_as_non_root"),
    _st("Secrets", "secrets_volume.go", "should be consumable from pods in volume with "
        "mappings and Item Mode set", LNC,
        "secrets_should_be_consumable_from_pods_in_volume_with_mappings_and_item_mode_set"),
    _st("Secrets", "secrets_volume.go", "should be consumable in multiple volumes in a pod",
        NC, "secrets_should_be_consumable_in_multiple_volumes_in_a_pod"),
    _st("Downward API volume", "downwardapi_volume.go", "should update annotations on "
        "modification", NC, "downward_api_volume_should_update_annotations_on_modification"),
    _st("Downward API volume", "downwardapi_volume.go", "should provide node allocatable "
        "(memory) as default memory limit if the limit is not set", NC,
        "downward_api_volume_should_provide_node_allocatable_memory_as_default_memory_"
        "limit_if_the_limit_is_not_set"),
    _st("Projected downwardAPI", "projected_downwardapi.go", "should provide podname only",
        NC, "projected_downwardapi_should_provide_podname_only"),
    _st("Projected secret", "projected_secret.go", "should be consumable from pods in volume",
        NC, "projected_secret_should_be_consumable_from_pods_in_volume"),
    _st("Projected configMap", "projected_configmap.go", "updates should be reflected in "
        "volume", NC, "projected_configmap_updates_should_be_reflected_in_volume",
        note="the agent's volume sync runs every 5 s (the kubelet's sync period is 1 min)"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0644,tmpfs)",
        LNC, "emptydir_volumes_should_support_root_0644_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0666,tmpfs)",
        LNC, "emptydir_volumes_should_support_root_0666_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0777,tmpfs)",
        LNC, "emptydir_volumes_should_support_root_0777_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0644,default)",
        LNC, "emptydir_volumes_should_support_root_0644_default"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0666,default)",
        LNC, "emptydir_volumes_should_support_root_0666_default"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (root,0777,default)",
        LNC, "emptydir_volumes_should_support_root_0777_default"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0666,tmpfs)",
        LNC, "emptydir_volumes_should_support_non_root_0666_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0777,tmpfs)",
        LNC, "emptydir_volumes_should_support_non_root_0777_tmpfs"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0644,default)",
        LNC, "emptydir_volumes_should_support_non_root_0644_default"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0666,default)",
        LNC, "emptydir_volumes_should_support_non_root_0666_default"),
    _st("EmptyDir volumes", "empty_dir.go", "should support (non-root,0777,default)",
        LNC, "emptydir_volumes_should_support_non_root_0777_default"),
    _st("ConfigMap", "configmap_volume.go", "optional updates should be reflected in volume",
        NC, "configmap_optional_updates_should_be_reflected_in_volume",
        note=MOUNTTEST_NOTE + "; the agent's volume sync runs every 5 s"),
    _st("Secrets", "secrets_volume.go", "optional updates should be reflected in volume", NC,
        "secrets_optional_updates_should_be_reflected_in_volume",
        note=MOUNTTEST_NOTE + "; the agent's volume sync runs every 5 s"),
    _st("Projected configMap", "projected_configmap.go", "optional updates should be "
        "reflected in volume", NC,
        "projected_configmap_optional_updates_should_be_reflected_in_volume",
        note=MOUNTTEST_NOTE + "; the agent's volume sync runs every 5 s"),
)
CASES = CASES + STORAGE_CASES

# exec, attach, run -i, cp and logs (their own module; see its docstring)
from tests.conformance.cases_exec import EXEC_CASES  # noqa: E402

CASES = (*CASES, *EXEC_CASES)


# -- test/e2e/apps/statefulset.go ([Conformance] cases ported; the others need kubectl exec
# to make pods unhealthy, a hostPort conflict, or are not tagged)
_STS = "test/e2e/apps/statefulset.go"
_STS_T = "test_statefulset.py::test_"
_STS_D = "StatefulSet Basic StatefulSet functionality [StatefulSetBasic]"
STATEFULSET_CASES: tuple[Case, ...] = tuple(
    Case(f"[sig-apps] {_STS_D} {it}", _STS, C, test=_STS_T + test) for it, test in (
        ("should perform rolling updates and roll backs of template modifications",
         "should_perform_rolling_updates_and_roll_backs_of_template_modifications"),
        ("should perform canary updates and phased rolling updates of template modifications",
         "should_perform_canary_updates_and_phased_rolling_updates_of_template_modifications"),
        ("should have a working scale subresource", "should_have_a_working_scale_subresource"),
        ("should list, patch and delete a collection of StatefulSets",
         "should_list_patch_and_delete_a_collection_of_statefulsets"),
        ("should validate Statefulset Status endpoints",
         "should_validate_statefulset_status_endpoints"),
        ("Should recreate evicted statefulset", "should_recreate_evicted_statefulset"),
    )) + tuple(
    Case(f"[sig-apps] {_STS_D} {it}", _STS, ("Slow", "Conformance"), test=_STS_T + test,
         note="a Python http.server serving the pod's /tmp/htdocs stands in for httpd; "
              "kubectl exec moves its index.html away and back, as upstream")
    for it, test in (
        ("Scaling should happen in predictable order and halt if any stateful pod is "
         "unhealthy [Slow]",
         "scaling_should_happen_in_predictable_order_and_halt_if_any_stateful_pod_is_"
         "unhealthy"),
        ("Burst scaling should run to completion even with unhealthy pods [Slow]",
         "burst_scaling_should_run_to_completion_even_with_unhealthy_pods"),
    ))
CASES = (*CASES, *STATEFULSET_CASES)

# the ingress-controller-conformance scenarios (their own module; see its docstring)
from tests.conformance.cases_ingress import INGRESS_CASES  # noqa: E402

CASES = (*CASES, *INGRESS_CASES)

# CustomResourceDefinitions (issue 24; their own module, see its docstring)
from tests.conformance.cases_crd import CRD_CASES  # noqa: E402

CASES = (*CASES, *CRD_CASES)

# -- issue 23: NetworkPolicy (test/e2e/network/netpol)
from tests.conformance.cases_netpol import NETPOL_CASES  # noqa: E402

CASES = (*CASES, *NETPOL_CASES)

from tests.conformance.cases_apimachinery_apply import APPLY_CASES  # noqa: E402

CASES = (*CASES, *APPLY_CASES)

# -- ResourceQuota (the rc.go exceeded-quota case)
from tests.conformance.cases_quota import QUOTA_CASES  # noqa: E402

CASES = (*CASES, *QUOTA_CASES)

# -- issue 24: field_validation.go for built-in kinds
from tests.conformance.cases_apimachinery import APIMACHINERY_CASES  # noqa: E402

CASES = (*CASES, *APIMACHINERY_CASES)
