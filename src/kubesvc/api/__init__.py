"""api: the Kubernetes object model with no I/O.

Resource registry (:mod:`.resources`), object metadata helpers (:mod:`.meta`), defaulting and
validation, Table printers, label/field selectors, and the three patch formats. Objects are
plain JSON dicts everywhere; nothing here touches the network or disk.
"""
