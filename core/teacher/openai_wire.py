"""The OpenAI chat-completions and completions wire format, as vLLM, TGI, llama.cpp's server
and most gateways speak it: request bodies and the parts of a reply the teacher uses.

The two modes return logprobs in different shapes; both become :class:`TokenLogprob` lists.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from core.teacher.config import Mode


class MalformedReply(ValueError):
    """A 200 reply without the fields the protocol promises (truncated or foreign JSON)."""


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"token": self.token, "logprob": self.logprob, "top": self.top}


@dataclass(frozen=True, slots=True)
class Choice:
    text: str
    logprobs: list[TokenLogprob] | None  # None: the server sent no logprobs


@dataclass(frozen=True, slots=True)
class Reply:
    choices: list[Choice]
    input_tokens: int
    output_tokens: int
    usage_ignored: bool = False  # the server reported impossible counts: not billed


def path_for(mode: Mode) -> str:
    return "/chat/completions" if mode == "chat" else "/completions"


def request_body(
    mode: Mode,
    model: str,
    prompt: str,
    *,
    max_tokens: int,
    temperature: float,
    n: int = 1,
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    """The JSON body of one request; ``top_logprobs`` None asks for no logprobs."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "n": n,
        "stream": False,
    }
    if mode == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
        if top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = top_logprobs
    else:
        body["prompt"] = prompt
        if top_logprobs is not None:
            body["logprobs"] = top_logprobs
    return body


def usage_limits(request: dict[str, Any]) -> tuple[int, int]:
    """The most input and output tokens a reply to ``request`` can honestly report.

    Generous on purpose (a token is at least a byte of the prompt, plus a chat template;
    at most ``max_tokens`` per answer): only absurd counts exceed them.
    """
    prompt = json.dumps(request.get("messages") or request.get("prompt") or "")
    answers = max(1, int(request.get("n") or 1))
    return 4 * len(prompt.encode()) + 4096, 10 * int(request.get("max_tokens") or 1) * answers


def parse_reply(mode: Mode, body: Any, limits: tuple[int, int] | None = None) -> Reply:
    """The choices and token usage of a reply.

    Token counts that are not whole numbers, negative, or beyond ``limits`` (see
    :func:`usage_limits`) are ignored (counted as 0, ``usage_ignored`` set): a cost is
    never negative or absurd.

    Raises:
        MalformedReply: the body lacks ``choices`` or their text.
    """
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise MalformedReply("no choices")
    if not body["choices"]:
        raise MalformedReply("empty choices")
    choices = [_choice(mode, c) for c in body["choices"]]
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    ceilings = limits or (sys.maxsize, sys.maxsize)
    if all(_plausible(count, ceiling) for count, ceiling in zip(counts, ceilings, strict=True)):
        return Reply(choices, input_tokens=int(counts[0] or 0), output_tokens=int(counts[1] or 0))
    return Reply(choices, input_tokens=0, output_tokens=0, usage_ignored=True)


def _plausible(count: Any, ceiling: int) -> bool:
    """A missing count is fine (some servers omit usage); a present one must be sane."""
    if count is None:
        return True
    whole = type(count) is int or (type(count) is float and count.is_integer())
    return whole and 0 <= count <= ceiling


def _choice(mode: Mode, raw: Any) -> Choice:
    if not isinstance(raw, dict):
        raise MalformedReply("a choice is not an object")
    try:
        if mode == "chat":
            text = raw["message"].get("content") or ""
            return Choice(str(text), _chat_logprobs(raw.get("logprobs")))
        return Choice(str(raw["text"]), _completion_logprobs(raw.get("logprobs")))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise MalformedReply("a choice lacks its text or logprobs") from exc


def _chat_logprobs(raw: Any) -> list[TokenLogprob] | None:
    if not raw or not raw.get("content"):
        return None
    return [
        TokenLogprob(
            str(entry["token"]),
            float(entry["logprob"]),
            {str(t["token"]): float(t["logprob"]) for t in entry.get("top_logprobs") or []},
        )
        for entry in raw["content"]
    ]


def _completion_logprobs(raw: Any) -> list[TokenLogprob] | None:
    if not raw or not raw.get("tokens"):
        return None
    tops = raw.get("top_logprobs") or [None] * len(raw["tokens"])
    return [
        TokenLogprob(
            str(token),
            float(logprob) if logprob is not None else float("-inf"),
            {str(k): float(v) for k, v in (top or {}).items()},
        )
        for token, logprob, top in zip(raw["tokens"], raw["token_logprobs"], tops, strict=False)
    ]


def model_ids(body: Any) -> list[str] | None:
    """The model names a ``GET /models`` reply lists, or None if it is not such a reply."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    return [str(m.get("id")) for m in body["data"] if isinstance(m, dict) and m.get("id")]
