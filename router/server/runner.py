"""Run a venue server app so that even malformed HTTP gets a Binance-style JSON answer.

aiohttp answers a request it cannot parse (a bad request line, a broken header, a body that
does not match its length) before any middleware runs: plain text, and a logged traceback. A
Binance client expects ``{"code", "msg"}`` and an operator reading the log expects one line. So
the runner here serves the app through a request handler whose ``handle_error`` answers JSON
-1000 with the parser's status (never a 500) and logs one line without a traceback.

aiohttp builds its request handlers inside ``Server.__call__`` and the server inside
``AppRunner._make_server``; both are subclassed (not patched) to swap in that handler.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from router.server.errors import UNKNOWN

log = logging.getLogger("crossroute.venue_server")


class _JsonErrorHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        shown = 400 if status >= 500 or status < 400 else status
        reason = (message or (str(exc) if exc else "") or "Malformed request.").splitlines()[0]
        log.warning(
            "refused a malformed request from %s: HTTP %d %s",
            request.remote,
            shown,
            reason[:200],
        )
        if request.writer.output_size > 0:  # the answer had begun: nothing more can be sent
            raise ConnectionError("response already started")
        body = json.dumps(
            {"code": UNKNOWN, "msg": f"Malformed request: {reason[:200]}"}, separators=(",", ":")
        )
        response = web.Response(status=shown, text=body, content_type="application/json")
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class VenueRunner(web.AppRunner):
    """``web.AppRunner`` for the venue server: the same app, JSON answers to unparseable HTTP."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _JsonErrorServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


async def start(
    app: web.Application, host: str = "127.0.0.1", port: int = 0, **kwargs: Any
) -> tuple[VenueRunner, int]:
    """Serve ``app`` on ``host:port`` (0: any free port); returns the runner and the bound port."""
    runner = VenueRunner(app, access_log=None, **kwargs)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]
