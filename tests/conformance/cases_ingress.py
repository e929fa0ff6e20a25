"""The scenarios of kubernetes-sigs/ingress-controller-conformance (its ``features/*.feature``
files: default backend, host rules, ingress class, load balancing, path rules), each a case
ported by one test of ``test_ingress.py`` against kubesvc's ingress controller (HAProxy).
A scenario's name is its feature, its title and the parenthesised example under it (the
titles alone repeat). Joined into :data:`tests.conformance.cases.CASES`; pure data.
"""

from __future__ import annotations

from tests.conformance.cases import Case

ICC = "kubernetes-sigs/ingress-controller-conformance features/"  # the file tag's prefix
TAGS = ("ingress-conformance",)  # @conformance of that suite, not Kubernetes' [Conformance]
T = "test_ingress.py::test_"
ECHO_NOTE = ("the backends are a small HTTP echo server (pod, method, path, proto and "
             "headers as JSON) standing in for the suite's echoserver image")


def _case(feature_file: str, feature: str, scenario: str, test: str, **kw: str) -> Case:
    return Case(f"[sig-network] Ingress {feature}: {scenario}", ICC + feature_file, TAGS,
                test=T + test, **kw)


_PATH = "An Ingress with"
INGRESS_CASES: tuple[Case, ...] = (
    _case("default_backend.feature", "Default backend",
          "An Ingress with no rules should send all requests to the default backend",
          "default_backend_gets_every_request", note=ECHO_NOTE + "; every row of the "
          "Examples table (GET/POST/PUT/DELETE/PATCH, with and without host and path)"),
    *(_case("host_rules.feature", "Host rules", s, t, note=ECHO_NOTE) for s, t in (
        ("An Ingress with a host rule should send TLS traffic to the matching backend "
         "service (host foo.bar.com matches request foo.bar.com)", "host_rule_tls"),
        ("An Ingress with a host rule should send traffic to the matching backend service "
         "(host foo.bar.com matches request foo.bar.com)", "host_rule_http"),
        ("An Ingress with a host rule should not route traffic when hostname does not match "
         "(host foo.bar.com does not match request subdomain.bar.com)", "host_rule_no_match"),
        ("An Ingress with a wildcard host rule should send traffic to the matching backend "
         "service (Matches based on shared suffix)", "wildcard_host_rule"),
        ("An Ingress with a wildcard host rule should not route traffic matching on more "
         "than a single dns label (No match, wildcard only covers a single DNS label)",
         "wildcard_not_two_labels"),
        ("An Ingress with a wildcard host rule should not route traffic matching no dns "
         "label (No match, wildcard only covers a single DNS label)",
         "wildcard_not_no_label"),
    )),
    _case("ingress_class.feature", "Ingress class",
          "An Ingress with an invalid ingress class should not send traffic to the matching "
          "backend service", "invalid_ingress_class_gets_no_address"),
    _case("load_balancing.feature", "Load Balancing",
          "An Ingress with no rules should send all requests to the default backend and",
          "load_balancing_over_ten_pods",
          note="100 requests reach all 10 replicas of the default backend"),
    *(_case("path_rules.feature", "Path rules", f"{_PATH} {s}", t, note=ECHO_NOTE)
      for s, t in (
        ("exact path rules should send traffic to the matching backend service (exact /foo "
         "matches request /foo)", "exact_matches"),
        ("exact path rules should not match requests with trailing slash (exact /foo does "
         "not match request /foo/)", "exact_not_trailing_slash"),
        ("exact path rules should be case sensitive (exact /foo does not match request "
         "/FOO)", "exact_case_sensitive"),
        ("exact path rules should not match any other label (exact /foo does not match "
         "request /bar)", "exact_not_other_label"),
        ("prefix path rules should send traffic to the matching backend service (prefix "
         "/foo matches request /foo)", "prefix_matches"),
        ("prefix path rules should ignore the request trailing slash and send traffic to "
         "the matching backend service (prefix /foo matches request /foo/)",
         "prefix_ignores_request_trailing_slash"),
        ("prefix path rules should be case sensitive (prefix /foo does not match request "
         "/FOO)", "prefix_case_sensitive"),
        ("prefix path rules should match multiple labels, match the longest path, and send "
         "traffic to the matching backend service (prefix /aaa/bbb matches request "
         "/aaa/bbb)", "prefix_longest_multiple_labels"),
        ("prefix path rules should match multiple labels, match the longest path, and "
         "subpaths and send traffic to the matching backend service (prefix /aaa/bbb "
         "matches request /aaa/bbb/ccc)", "prefix_longest_and_subpaths"),
        ("prefix path rules should and send traffic to the matching backend service "
         "(prefix /aaa matches request /aaa/ccc)", "prefix_shorter"),
        ("prefix path rules should match each labels string prefix (prefix /aaa does not "
         "match request /aaaccc)", "prefix_element_wise"),
        ("mixed path rules should send traffic to the matching backend service where Exact "
         "is preferred (exact /foo matches request /foo)", "mixed_exact_preferred"),
        ("a trailing slashes in a prefix path rule should ignore the trailing slash and "
         "send traffic to the matching backend service (prefix /aaa/bbb/ matches request "
         "/aaa/bbb)", "prefix_rule_trailing_slash_no_slash_request"),
        ("a trailing slashes in a prefix path rule should ignore the trailing slash and "
         "send traffic to the matching backend service (prefix /aaa/bbb/ matches request "
         "/aaa/bbb/)", "prefix_rule_trailing_slash_slash_request"),
        ("a trailing slashes in an exact path rule should not match requests without a "
         "trailing slash (exact /foo/ does not match request /foo)",
         "exact_rule_trailing_slash"),
    )),
)
