"""kubesvc: the Kubernetes Service system in Python.

Layers (enforced by import-linter, see pyproject.toml):
``cli > {apiserver, controllers, dns, proxy, runtime} > informers > client > storage > api``.
"""

from __future__ import annotations

__version__ = "0.1.0"
