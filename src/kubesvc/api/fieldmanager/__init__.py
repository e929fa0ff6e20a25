"""Server-side apply and managedFields, as upstream's ``k8s.io/apimachinery/pkg/util/managedfields``
over ``sigs.k8s.io/structured-merge-diff``.

- :mod:`.fieldpath` — field sets in their FieldsV1 form (``f:``, ``k:{...}``, ``v:``,
  ``i:``, ``.``), set algebra, path strings for messages;
- :mod:`.typed` — how a value merges, from the structural schemas (list types and
  list-map keys, atomic maps), falling back to "maps granular, lists atomic";
- :mod:`.merge` — the structured walks: field set of a value, comparison, merge, removal;
- :mod:`.manager` — the managedFields bookkeeping of Update and Apply operations
  (ownership, conflicts, force, pruning of fields a manager stops applying).

No I/O; called by the API server's registry on every write.
"""

from __future__ import annotations

from kubesvc.api.fieldmanager.manager import (
    APPLY,
    UPDATE,
    apply,
    manager_from_user_agent,
    update,
)

__all__ = ["APPLY", "UPDATE", "apply", "manager_from_user_agent", "update"]
