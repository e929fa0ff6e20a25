"""The upstream cases (Kubernetes v1.32) of ``test/e2e/apimachinery/apply.go``
("[sig-api-machinery] ServerSideApply"). Joined into :data:`tests.conformance.cases.CASES`;
pure data.
"""

from __future__ import annotations

from tests.conformance.cases import Case

APPLY = "test/e2e/apimachinery/apply.go"
X = "test_apply.py::test_"


def _c(it: str, **kw: str) -> Case:
    return Case(f"[sig-api-machinery] ServerSideApply {it}", APPLY, **kw)


APPLY_CASES = (
    _c("should create an applied object if it does not already exist",
       test=X + "should_create_an_applied_object_if_it_does_not_already_exist"),
    _c("should work for subresources", test=X + "should_work_for_subresources",
       note="pause stands in for upstream's nginx image; the status applies wait for the "
            "pod to be Ready (the node agent merge-patches its conditions, where the "
            "kubelet sends a strategic two-way diff)"),
    _c("should remove a field if it is owned but removed in the apply request",
       test=X + "should_remove_a_field_if_it_is_owned_but_removed_in_the_apply_request",
       note="0 replicas and pause instead of 3 nginx pods"),
    _c("should not remove a field if an owner unsets the field but other managers still "
       "have ownership of the field",
       test=X + "should_not_remove_a_field_if_an_owner_unsets_the_field_but_other_managers_"
                "still_have_ownership_of_the_field"),
    _c("should ignore conflict errors if force apply is used",
       test=X + "should_ignore_conflict_errors_if_force_apply_is_used"),
    _c("should work for CRDs", test=X + "should_work_for_crds",
       note="the CRDs are made with their manifests (upstream's fixtures make the same "
            "two-version cluster-scoped noxu)"),
    _c("should give up ownership of a field if forced applied by a controller",
       test=X + "should_give_up_ownership_of_a_field_if_forced_applied_by_a_controller"),
)
