"""The API server's HTTP layer (aiohttp): routing, authentication, TLS, content negotiation,
discovery, OpenAPI and the REST handlers over the Registry. Entry point: :class:`ApiServer`.
"""

from __future__ import annotations

from kubesvc.apiserver.http.logs import LogSource
from kubesvc.apiserver.http.server import ApiServer

__all__ = ["ApiServer", "LogSource"]
