"""A language-model endpoint on 127.0.0.1 and a langchain chat model that talks to it over HTTP.

The endpoint answers `POST /v1/chat` with `{"content": ...}` from a script, or misbehaves on
purpose: `slow` (answers after a delay), `hold` (an event: calls wait for it, so a test can
keep a call in flight as long as it needs without racing a clock; `held` is set once a call
is waiting), `status` (e.g. 500, or 401 for a wrong key). A stopped
endpoint refuses connections. `HttpChatModel` sends the key as a bearer token, like the hosted
services, so tests can check the key never reaches a log line or a message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import aiohttp
from aiohttp import web
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class FakeLLMEndpoint:
    def __init__(self, *, key: str = "sk-test-0000") -> None:
        self.key = key
        self.answers: deque[str] = deque()
        self.slow = 0.0
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()
        self.status = 200
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> FakeLLMEndpoint:
        app = web.Application()
        app.router.add_post("/v1/chat", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat"

    async def _chat(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hold is not None:
            self.held.set()
            await self.hold.wait()
        if self.slow:
            await asyncio.sleep(self.slow)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            # Like some services: the refusal quotes what was sent.
            sent = request.headers.get("Authorization", "")
            return web.json_response({"error": f"invalid api key: {sent}"}, status=401)
        if self.status != 200:
            return web.json_response({"error": "internal error"}, status=self.status)
        content = self.answers.popleft() if self.answers else '{"text": "Een voorstel van het model."}'
        return web.json_response({"content": content})


class HttpChatModel(BaseChatModel):
    """A chat model behind an HTTP endpoint (no tool calling: the service parses JSON from text)."""

    url: str
    api_key: str
    timeout: float = 30.0

    @property
    def _llm_type(self) -> str:
        return "kompas-test-http"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("async only")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        payload = {"messages": [{"role": m.type, "content": m.content} for m in messages]}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
            session.post(self.url, json=payload, headers=headers) as response,
        ):
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"model endpoint answered {response.status}: {body.get('error')}")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=body["content"]))])
