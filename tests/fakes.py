"""Test doubles for the model boundary (logic tests only; HTTP paths use real servers)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from service.errors import Usage
from service.llm import Completion, CompletionRequest


class FakeLLM:
    """Queue-based fake: each call pops the next reply (a string, a dict sent as JSON,
    or an exception to raise). Records every request it receives."""

    def __init__(self, *replies: str | dict[str, Any] | BaseException, ready: bool = True) -> None:
        self.replies: deque[str | dict[str, Any] | BaseException] = deque(replies)
        self.requests: list[CompletionRequest] = []
        self._ready = ready

    def enqueue(self, *replies: str | dict[str, Any] | BaseException) -> FakeLLM:
        self.replies.extend(replies)
        return self

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError("FakeLLM: no reply queued for this call")
        reply = self.replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        text = reply if isinstance(reply, str) else json.dumps(reply)
        return Completion(text=text, usage=Usage(100, 20, 0.0), model=request.model)

    async def ready(self, model: str) -> tuple[bool, str]:
        return (True, "fake is up") if self._ready else (False, "fake model is down")
