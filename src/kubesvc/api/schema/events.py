"""Structural schema of events.k8s.io/v1 Event (v1.32). The core/v1 Event is in ``core``.

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, MT, C, E, M, S, T, defn, ref

defn(
    E + "Event",
    {
        "action": S,
        "apiVersion": S,
        "deprecatedCount": I32,
        "deprecatedFirstTimestamp": T,
        "deprecatedLastTimestamp": T,
        "deprecatedSource": ref(C + "EventSource"),
        "eventTime": MT,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "note": S,
        "reason": S,
        "regarding": ref(C + "ObjectReference"),
        "related": ref(C + "ObjectReference"),
        "reportingController": S,
        "reportingInstance": S,
        "series": ref(E + "EventSeries"),
        "type": S,
    },
    required=("eventTime",),
)

defn(
    E + "EventSeries",
    {
        "count": I32,
        "lastObservedTime": MT,
    },
    required=("count", "lastObservedTime"),
)
