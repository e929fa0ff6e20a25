"""The API server's ``/metrics`` read by the real kubectl (``get --raw /metrics``) and
parsed as Prometheus text: requests are counted under kube-apiserver's names and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.apiserver.harness import Kubectl

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(kubectl: Kubectl) -> Samples:
    text = kubectl("get", "--raw", "/metrics").stdout
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items()
               if n == name and labels.items() <= dict(ls).items())


def test_requests_are_counted_by_verb_resource_scope_and_code(kubectl: Kubectl) -> None:
    before = _scrape(kubectl)
    kubectl("create", "configmap", "metrics-cm", "--from-literal=a=b")
    kubectl("get", "configmap", "metrics-cm")
    kubectl("get", "configmaps")
    kubectl("get", "configmap", "no-such-cm", check=False)
    kubectl("delete", "configmap", "metrics-cm")
    after = _scrape(kubectl)

    def delta(verb: str, code: str, scope: str) -> float:
        labels = {"verb": verb, "code": code, "scope": scope, "resource": "configmaps",
                  "group": "", "version": "v1", "component": "apiserver"}
        return (_value(after, "apiserver_request_total", **labels)
                - _value(before, "apiserver_request_total", **labels))

    assert delta("POST", "201", "namespace") == 1
    assert delta("GET", "200", "resource") >= 1
    assert delta("LIST", "200", "namespace") >= 1
    assert delta("GET", "404", "resource") >= 1
    assert delta("DELETE", "200", "resource") == 1
    count = _value(after, "apiserver_request_duration_seconds_count", verb="POST",
                   resource="configmaps")
    inf = _value(after, "apiserver_request_duration_seconds_bucket", verb="POST",
                 resource="configmaps", le="+Inf")
    assert count >= 1 and inf == count
    # the scrape itself is a non-resource GET, reported with its path
    assert _value(after, "apiserver_request_total", verb="GET", subresource="/metrics",
                  code="200") >= 1
    assert ("apiserver_current_inflight_requests", (("request_kind", "mutating"),)) in after
    assert _value(after, "process_cpu_seconds_total") > 0


def test_metrics_need_authorization(kubectl: Kubectl) -> None:
    # a user with no role may not read /metrics (nonResourceURLs, as upstream)
    out = kubectl("get", "--raw", "/metrics", "--as", "nobody", check=False)
    assert out.returncode != 0
    assert 'cannot get path "/metrics"' in out.stderr
    ok = kubectl("get", "--raw", "/metrics", "--as", "mon", "--as-group", "system:monitoring")
    assert "apiserver_request_total" in ok.stdout
