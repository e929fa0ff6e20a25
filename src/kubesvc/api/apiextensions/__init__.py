"""apiextensions.k8s.io/v1: CustomResourceDefinitions and the custom resources they define
(upstream ``k8s.io/apiextensions-apiserver``), the pure part: no I/O.

Modules: :mod:`.model` (a CRD read into what serving needs: per-version schemas, printer
columns, subresources, the ``ResourceInfo`` of each served version, acceptedNames and
conditions), :mod:`.crdvalidation` (the CRD object's own validation), :mod:`.structural`
(structural schema rules), :mod:`.schemavalidation` (an object against an OpenAPI v3
schema, upstream-worded), :mod:`.defaulting`, :mod:`.pruning`, :mod:`.cel`
(``x-kubernetes-validations``), :mod:`.jsonpath` (printer columns and scale paths),
:mod:`.tables` (the Table of CRDs and of custom resources), :mod:`.openapi` (the
published OpenAPI of a custom group-version).

The serving side (strategies, the CRD controller) is in
:mod:`kubesvc.apiserver.registry.customresources` and
:mod:`kubesvc.apiserver.registry.crdcontroller`.
"""
