"""The upstream ReplicationController case that needs ResourceQuota
(``test/e2e/apps/rc.go``, v1.32). Joined into :data:`tests.conformance.cases.CASES`;
pure data.
"""

from __future__ import annotations

from tests.conformance.cases import Case

QUOTA_CASES = (
    Case("[sig-apps] ReplicationController should surface a failure condition on a common "
         "issue like exceeded quota", "test/e2e/apps/rc.go", ("Conformance",),
         test="test_workloads.py::test_rc_should_surface_a_failure_condition_on_exceeded_quota"),
)
