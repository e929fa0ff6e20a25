"""The upstream cases (Kubernetes v1.32) about exec, attach, ``kubectl run -i``, cp and
logs: the exec/attach/logs parts of ``test/e2e/kubectl/kubectl.go`` ("Simple pod",
"Kubectl copy"), ``test/e2e/kubectl/logs.go``, the WebSocket cases of
``test/e2e/common/node/pods.go``, ``test/e2e/kubectl/portforward.go`` and the ephemeral
container cases of ``test/e2e/common/node/ephemeral_containers.go``. Joined into
:data:`tests.conformance.cases.CASES`; pure data.
"""

from __future__ import annotations

from tests.conformance.cases import NOT_PORTED, Case

KUBECTL = "test/e2e/kubectl/kubectl.go"
PODS = "test/e2e/common/node/pods.go"
LOGS = "test/e2e/kubectl/logs.go"
PORTFORWARD = "test/e2e/kubectl/portforward.go"
EPHEMERAL = "test/e2e/common/node/ephemeral_containers.go"
PF = "test_portforward_ephemeral.py::test_"
X = "test_exec.py::test_"
C = ("Conformance",)


def _simple(it: str, tags: tuple[str, ...] = (), **kw: str) -> Case:
    return Case(f"[sig-cli] Kubectl client Simple pod {it}", KUBECTL, tags, **kw)


EXEC_CASES = (
    _simple("should support exec", test=X + "should_support_exec",
            note="a busybox pod stands in for upstream's httpd pod with a readiness probe"),
    _simple("should support exec using resource/name",
            test=X + "should_support_exec_using_resource_name"),
    _simple("should support exec through an HTTP proxy",
            not_applicable="Go's proxy-from-environment never proxies loopback addresses, "
                           "and the conformance cluster's API server is on 127.0.0.1"),
    _simple("should support exec through kubectl proxy",
            test=X + "should_support_exec_through_kubectl_proxy"),
    _simple("should return command exit codes execing into a container with a successful "
            "command",
            test=X + "should_return_command_exit_codes_execing_into_a_container_with_a_"
                     "successful_command"),
    _simple("should return command exit codes execing into a container with a failing "
            "command",
            test=X + "should_return_command_exit_codes_execing_into_a_container_with_a_"
                     "failing_command"),
    _simple("should return command exit codes should handle in-cluster config",
            not_ported="needs ServiceAccount tokens mounted into pods (kubesvc issues none "
                       "yet) and kubectl copied into a container"),
    _simple("Kubectl run running a successful command",
            test=X + "kubectl_run_running_a_successful_command"),
    _simple("Kubectl run running a failing command",
            test=X + "kubectl_run_running_a_failing_command"),
    _simple("Kubectl run running a failing command without --restart=Never", ("Slow",),
            not_ported=NOT_PORTED + " ([Slow]: waits out kubectl's --pod-running-timeout)"),
    _simple("Kubectl run running a failing command without --restart=Never, but with --rm",
            ("Slow",),
            not_ported=NOT_PORTED + " ([Slow]: waits out kubectl's --pod-running-timeout)"),
    _simple("Kubectl run running a failing command with --leave-stdin-open", ("Slow",),
            test=X + "kubectl_run_running_a_failing_command_with_leave_stdin_open"),
    _simple("should support inline execution and attach",
            test=X + "should_support_inline_execution_and_attach"),
    _simple("should support inline execution and attach with websockets or fallback to spdy",
            test=X + "should_support_inline_execution_and_attach_with_websockets_or_"
                     "fallback_to_spdy",
            note="kubectl 1.32 speaks WebSocket v5 here; the SPDY fallback is not served"),
    _simple("should contain last line of the log",
            test=X + "should_contain_last_line_of_the_log"),
    Case("[sig-cli] Kubectl logs logs should be able to retrieve and filter logs", LOGS, C,
         test=X + "kubectl_logs_should_be_able_to_retrieve_and_filter_logs",
         note="a shell loop stands in for agnhost logs-generator"),
    Case("[sig-cli] Kubectl client Kubectl copy should copy a file from a running Pod",
         KUBECTL, test=X + "kubectl_copy_should_copy_a_file_from_a_running_pod",
         note="the file lives under the test's temporary directory, not /root (host mode "
              "pods share the machine's filesystem)"),
    Case("[sig-node] Pods should support remote command execution over websockets",
         PODS, ("NodeConformance", "Conformance"),
         test=X + "pods_should_support_remote_command_execution_over_websockets"),
    Case("[sig-node] Pods should support retrieving logs from the container over websockets",
         PODS, ("NodeConformance", "Conformance"),
         test=X + "pods_should_support_retrieving_logs_from_the_container_over_websockets"),
)

PF_NOTE = ("the tester binds a free port instead of 80 (host-mode pods share the machine's "
           "ports; the ingress may hold :80), and the test waits for its listener with a "
           "bind probe instead of upstream's netstat readiness container")


def _pf(bind: str, it: str, test: str) -> Case:
    return Case(f"[sig-cli] Kubectl Port forwarding With a server listening on {bind} {it}",
                PORTFORWARD, test=PF + test, note=PF_NOTE)


PORTFORWARD_CASES = (*(
    case for bind, key in (("0.0.0.0", "any"), ("localhost", "localhost")) for case in (
        _pf(bind, "that expects a client request should support a client that connects, "
                  "sends NO DATA, and disconnects", f"pf_{key}_expects_request_sends_no_data"),
        _pf(bind, "that expects a client request should support a client that connects, "
                  "sends DATA, and disconnects", f"pf_{key}_expects_request_sends_data"),
        _pf(bind, "that expects NO client request should support a client that connects, "
                  "sends DATA, and disconnects", f"pf_{key}_expects_no_request_sends_data"),
        _pf(bind, "should support forwarding over websockets", f"pf_{key}_websockets"),
    )),
    Case("[sig-cli] Kubectl Port forwarding with a pod being removed should stop "
         "port-forwarding", PORTFORWARD,
         not_ported=NOT_PORTED + " (POSTs up to 1 GiB to netexec's /header while the pod "
                                 "is deleted)"),
    Case("[sig-cli] Kubectl Port forwarding Shutdown client connection while the remote "
         "stream is writing data to the port-forward connection port-forward should keep "
         "working after detect broken connection", PORTFORWARD,
         not_ported=NOT_PORTED + " (downloads agnhost's own 40 MB binary from netexec's "
                                 "/agnhost, which the Python agnhost does not serve)"),
)

EPHEMERAL_CASES = (
    Case("[sig-node] Ephemeral Containers [NodeConformance] will start an ephemeral "
         "container in an existing pod [Conformance]", EPHEMERAL,
         ("NodeConformance", "Conformance"),
         test=PF + "ephemeral_container_starts_in_an_existing_pod",
         note="exec and logs through kubectl (upstream's framework execs over SPDY)"),
    Case("[sig-node] Ephemeral Containers [NodeConformance] should update the ephemeral "
         "containers in an existing pod [Conformance]", EPHEMERAL,
         ("NodeConformance", "Conformance"),
         test=PF + "ephemeral_containers_update_in_an_existing_pod"),
)

EXEC_CASES = (*EXEC_CASES, *PORTFORWARD_CASES, *EPHEMERAL_CASES)
