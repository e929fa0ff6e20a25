"""The upstream cases (Kubernetes v1.32) of ``test/e2e/apimachinery/field_validation.go``
for built-in kinds (issue 24). The custom-resource cases of that file belong to the CRD
work and are listed there. Joined into :data:`tests.conformance.cases.CASES`; pure data.
"""

from __future__ import annotations

from tests.conformance.cases import Case

FIELD_VALIDATION = "test/e2e/apimachinery/field_validation.go"
_T = "test_field_validation.py::test_"

APIMACHINERY_CASES: tuple[Case, ...] = tuple(
    Case(f"[sig-api-machinery] FieldValidation {it}", FIELD_VALIDATION, ("Conformance",),
         test=_T + it.replace(" ", "_"))
    for it in (
        "should detect unknown and duplicate fields of a typed object",
        "should detect unknown metadata fields of a typed object",
    )
)
