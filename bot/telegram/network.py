"""HTTP towards the Bot API: retries for what PTB does not retry, and no token in any log line.

PTB raises 5xx answers and transport errors as `NetworkError` and never retries them; a 400 is
`BadRequest`, also a `NetworkError` subclass, and must never be retried (its cause needs fixing).
Retrying happens here, below PTB's error mapping, on the raw HTTP status, so a 400 is simply
returned. A 429 is left to `AIORateLimiter` (which pauses all requests for `retry_after`) unless
the rate limiter is off; then it is honoured here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0


class RetryingRequest(HTTPXRequest):
    """`HTTPXRequest` that retries 5xx answers, timeouts and connection errors with backoff.

    A timed-out call may have reached Telegram; retrying it can, rarely, show a message twice.
    That is preferred over losing it.
    """

    def __init__(self, *, attempts: int = 4, backoff: float = 0.25, retry_429: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts = attempts
        self.backoff = backoff
        self.retry_429 = retry_429

    async def do_request(  # type: ignore[override]
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        **timeouts: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                code, payload = await super().do_request(url, method, request_data, **timeouts)
            except (TimedOut, NetworkError) as exc:
                if last:
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("Telegram %s: %s; nieuwe poging over %.2f s", endpoint, exc.__class__.__name__, delay)
                await asyncio.sleep(delay)
                continue
            if code == 429 and self.retry_429 and not last:
                delay = min(_retry_after(payload), MAX_RETRY_AFTER)
                log.warning("Telegram %s: te veel verzoeken; nieuwe poging over %.1f s", endpoint, delay)
                await asyncio.sleep(delay)
                continue
            if code >= 500 and not last:
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("Telegram %s: HTTP %d; nieuwe poging over %.2f s", endpoint, code, delay)
                await asyncio.sleep(delay)
                continue
            return code, payload
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(payload: bytes) -> float:
    try:
        data = json.loads(payload)
        return float(data.get("parameters", {}).get("retry_after", 1))
    except (ValueError, TypeError, AttributeError):
        return 1.0


REDACTED = "<TOKEN>"


def install_token_redaction(secret: str) -> None:
    """Replace the token in every log record made from now on, including tracebacks.

    Done in the record factory, so it covers every logger and every handler, also ones added
    later. httpx logs each request URL (which contains the token) at INFO: it is quietened too.
    """
    if not secret:
        return
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", None) == secret:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return record
        if secret in message:
            record.msg = message.replace(secret, REDACTED)
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = text.replace(secret, REDACTED)
        return record

    factory.redacts = secret  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def redact(text: str, secret: str) -> str:
    return text.replace(secret, REDACTED) if secret else text
