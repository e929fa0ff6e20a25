"""The upstream [Conformance] cases (Kubernetes v1.32) about CustomResourceDefinitions:
``test/e2e/apimachinery/custom_resource_definition.go``, ``crd_publish_openapi.go``,
``crd_watch.go`` and the CRD cases of ``field_validation.go``. Joined into
:data:`tests.conformance.cases.CASES`; pure data.
"""

from __future__ import annotations

from tests.conformance.cases import Case

_CRD = "test/e2e/apimachinery/custom_resource_definition.go"
_OPENAPI = "test/e2e/apimachinery/crd_publish_openapi.go"
_WATCH = "test/e2e/apimachinery/crd_watch.go"
_FIELD = "test/e2e/apimachinery/field_validation.go"
_T = "test_crd.py::test_"
_C = ("Conformance",)
_RES = "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]"
_PUB = "[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin]"
_FV = "[sig-api-machinery] FieldValidation"


def _case(prefix: str, file: str, it: str, test: str = "", **kw: str) -> Case:
    return Case(f"{prefix} {it}", file, _C, test=_T + test if test else "", **kw)


CRD_CASES: tuple[Case, ...] = (
    _case(_RES, _CRD, "Simple CustomResourceDefinition creating/deleting custom resource "
          "definition objects works", "simple_crd_creating_deleting_works"),
    _case(_RES, _CRD, "Simple CustomResourceDefinition getting/updating/patching custom "
          "resource definition status sub-resource works",
          "simple_crd_status_subresource_works"),
    _case(_RES, _CRD, "Simple CustomResourceDefinition listing custom resource definition "
          "objects works", "simple_crd_listing_works"),
    _case(_RES, _CRD, "should include custom resource definition resources in discovery "
          "documents", "should_include_crd_resources_in_discovery_documents"),
    _case(_RES, _CRD, "custom resource defaulting for requests and from storage works",
          "custom_resource_defaulting_for_requests_and_from_storage_works"),
    _case(_PUB, _OPENAPI, "works for CRD with validation schema",
          "crd_publish_openapi_works_for_crd_with_validation_schema",
          note="checks the OpenAPI v3 document (upstream polls /openapi/v2)"),
    _case(_PUB, _OPENAPI, "works for CRD without validation schema",
          "crd_publish_openapi_works_for_crd_without_validation_schema"),
    _case(_PUB, _OPENAPI, "works for CRD preserving unknown fields at the schema root",
          "crd_publish_openapi_works_for_crd_preserving_unknown_fields_at_the_schema_root"),
    _case(_PUB, _OPENAPI, "works for CRD preserving unknown fields in an embedded object",
          "crd_publish_openapi_works_for_crd_preserving_unknown_fields_in_an_embedded_"
          "object"),
    _case(_PUB, _OPENAPI, "works for multiple CRDs of different groups",
          "crd_publish_openapi_works_for_multiple_crds_of_different_groups"),
    _case(_PUB, _OPENAPI, "works for multiple CRDs of same group but different versions",
          "crd_publish_openapi_works_for_multiple_crds_of_same_group_but_different_versions",
          note="one CRD with two versions (upstream also tries two CRDs)"),
    _case(_PUB, _OPENAPI, "works for multiple CRDs of same group and version but different "
          "kinds", "crd_publish_openapi_works_for_multiple_crds_of_same_group_and_version_"
          "but_different_kinds"),
    _case(_PUB, _OPENAPI, "updates the published spec when one version gets renamed",
          "crd_publish_openapi_updates_the_published_spec_when_one_version_gets_renamed"),
    _case(_PUB, _OPENAPI, "removes definition from spec when one version gets changed to "
          "not be served", "crd_publish_openapi_removes_definition_from_spec_when_one_"
          "version_gets_changed_to_not_be_served"),
    _case("[sig-api-machinery] CustomResourceDefinition Watch [Privileged:ClusterAdmin]",
          _WATCH, "CustomResourceDefinition Watch watch on custom resource definition "
          "objects", "crd_watch_on_custom_resource_definition_objects"),
    _case(_FV, _FIELD, "should create/apply a valid CR for CRD with validation schema",
          "field_validation_should_create_apply_a_valid_cr_for_crd_with_validation_schema"),
    _case(_FV, _FIELD, "should create/apply a CR with unknown fields for CRD with no "
          "validation schema", "field_validation_should_create_apply_a_cr_with_unknown_"
          "fields_for_crd_with_no_validation_schema"),
    _case(_FV, _FIELD, "should detect unknown metadata fields in both the root and embedded "
          "object of a CR", "field_validation_should_detect_unknown_metadata_fields_in_"
          "both_the_root_and_embedded_object_of_a_cr"),
    _case(_FV, _FIELD, "should create/apply an invalid CR with extra properties for CRD "
          "with validation schema", "field_validation_should_create_apply_an_invalid_cr_"
          "with_extra_properties_for_crd_with_validation_schema"),
    _case(_FV, _FIELD, "should detect duplicates in a CR when preserving unknown fields",
          "field_validation_should_detect_duplicates_in_a_cr_when_preserving_unknown_"
          "fields"),
)
