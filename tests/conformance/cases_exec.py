"""The upstream cases (Kubernetes v1.32) about exec, attach, ``kubectl run -i``, cp and
logs: the exec/attach/logs parts of ``test/e2e/kubectl/kubectl.go`` ("Simple pod",
"Kubectl copy"), ``test/e2e/kubectl/logs.go`` and the WebSocket cases of
``test/e2e/common/node/pods.go``. Joined into :data:`tests.conformance.cases.CASES`; pure
data. (Port-forward cases live with the port-forward work.)
"""

from __future__ import annotations

from tests.conformance.cases import NOT_PORTED, Case

KUBECTL = "test/e2e/kubectl/kubectl.go"
PODS = "test/e2e/common/node/pods.go"
LOGS = "test/e2e/kubectl/logs.go"
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
