"""Load limits in front of every request: upstream's max-in-flight filter and its timeout
for requests that are not long-running.

- ``--max-requests-inflight`` (400) bounds the non-mutating requests (GET, HEAD) being
  served at once, ``--max-mutating-requests-inflight`` (200) the others; 0 lifts a bound.
  A request over its bound is answered at once with 429 ``TooManyRequests``, ``Retry-After:
  1`` and upstream's "Too many requests, please try again later." — unless its user is in
  ``system:masters``, which upstream always serves. Upstream writes that 429 as plain text;
  here it is a ``metav1.Status`` (client-go reads the code and the Retry-After header
  either way).
- ``--request-timeout`` (60 s): a request still being served after it is answered 504
  ``Timeout`` with upstream's message; its work is not undone (writes are shielded in the
  handlers, as upstream lets the handler goroutine finish).
- Long-running requests (watch, pod logs, the proxy) are counted by neither and are bounded
  by their own timeouts (``timeoutSeconds`` / ``--min-request-timeout``).

Called by :mod:`.app` around its routing; calls nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from kubesvc import errors
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.negotiation import encode

MAX_REQUESTS_INFLIGHT = 400
MAX_MUTATING_REQUESTS_INFLIGHT = 200
REQUEST_TIMEOUT = 60.0
TOO_MANY_REQUESTS = "Too many requests, please try again later."
TIMED_OUT = "Timeout: request did not complete within requested timeout - context deadline exceeded"
_NON_MUTATING = frozenset({"GET", "HEAD"})
_PRIVILEGED_GROUP = "system:masters"


class Limits:
    """The in-flight counters of one server and its request timeout."""

    def __init__(
        self,
        *,
        max_requests_inflight: int = MAX_REQUESTS_INFLIGHT,
        max_mutating_requests_inflight: int = MAX_MUTATING_REQUESTS_INFLIGHT,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.max_requests_inflight = max_requests_inflight
        self.max_mutating_requests_inflight = max_mutating_requests_inflight
        self.request_timeout = request_timeout
        self.inflight = 0
        self.mutating_inflight = 0

    async def serve(self, request: web.Request, user: User | None,
                    handler: Callable[[], Awaitable[web.StreamResponse]], *,
                    long_running: bool) -> web.StreamResponse:
        if long_running:
            return await handler()
        mutating = request.method not in _NON_MUTATING
        count = self.mutating_inflight if mutating else self.inflight
        limit = (self.max_mutating_requests_inflight if mutating
                 else self.max_requests_inflight)
        if 0 < limit <= count and (user is None or _PRIVILEGED_GROUP not in user.groups):
            return _too_many_requests()
        if mutating:
            self.mutating_inflight += 1
        else:
            self.inflight += 1
        try:
            return await self._timed(handler)
        finally:
            if mutating:
                self.mutating_inflight -= 1
            else:
                self.inflight -= 1

    async def _timed(self, handler: Callable[[], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        if self.request_timeout <= 0:
            return await handler()
        scope = asyncio.timeout(self.request_timeout)
        try:
            async with scope:
                return await handler()
        except TimeoutError:
            if not scope.expired():
                raise
            err = errors.Timeout(TIMED_OUT)
            return web.Response(body=encode(err.status()), status=err.code,
                                content_type="application/json")


def _too_many_requests() -> web.Response:
    err = errors.TooManyRequests(TOO_MANY_REQUESTS)
    resp = web.Response(body=encode(err.status()), status=err.code,
                        content_type="application/json")
    resp.headers["Retry-After"] = "1"
    return resp
