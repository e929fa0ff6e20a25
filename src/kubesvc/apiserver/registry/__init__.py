"""registry: the API server's storage-facing core — REST semantics over the ``Store`` for
every served resource (:class:`Registry`), which is also the in-process ``Client``.

Modules: :mod:`.core` (the Registry: get/list/watch/create/update/patch/delete pipeline),
:mod:`.strategies` (per-kind hooks), :mod:`.services` (ClusterIP/NodePort admission),
:mod:`.namespaces` (namespace lifecycle), :mod:`.deletion` (graceful deletion, finalizers,
propagation), :mod:`.listing` (selectors, pagination), :mod:`.watch` (event translation),
:mod:`.patching` (PATCH), :mod:`.fieldvalidation` (fieldValidation, unknown fields),
:mod:`.subresources` (scale, binding), :mod:`.eviction` (pods/eviction against
PodDisruptionBudgets), :mod:`.batchstrategy` (Job selector generation), :mod:`.bootstrap`
(system namespaces and the
``kubernetes`` Service), :mod:`.codec` (storage encoding, upstream-worded errors).
"""

from __future__ import annotations

from kubesvc.apiserver.registry.core import Registry

__all__ = ["Registry"]
