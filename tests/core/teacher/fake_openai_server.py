"""A loopback server that speaks the OpenAI chat-completions and completions protocol.

It answers with a *real* local causal LM (greedy or sampled decoding, real logprobs and
``top_logprobs``), or, for throughput benches where the model's own compute would be the
bottleneck, with a scripted backend that answers deterministically after a fixed latency.

Switches inject the faults an on-prem endpoint shows: 429 (with Retry-After), 500, 503,
timeouts (answering after the client gave up), truncated JSON, dropped connections, slow
answers, answers outside the label set, no logprobs, logprobs refused, a wrong key, and
unknown model names. Streaming is not supported (the teacher never streams).

And what a hostile one does: answers edited at will (``mangle``: NaN logprobs, negative
token counts), answers dripped a byte at a time (``drip_s``), huge answers (``pad_bytes``),
with or without a Content-Length. It can serve over TLS (``start(tls=context)``), and it
keeps every request's headers, so a test can prove the API key was sent.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULT_KINDS = ("429", "500", "503", "timeout", "truncated", "reset", "slow")


@dataclass
class Generated:
    text: str
    tokens: list[tuple[str, float, dict[str, float]]]  # (token, logprob, top alternatives)


class ModelBackend:
    """Greedy or sampled decoding with a real Hugging Face causal LM, one request at a time."""

    def __init__(self, folder: Path, seed: int = 0) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
        self._lock = threading.Lock()
        self._generator = torch.Generator().manual_seed(seed)

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def format(self, prompt: str, chat: bool) -> str:
        if chat and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return prompt

    def generate(self, text: str, max_tokens: int, temperature: float, top: int) -> Generated:
        torch = self._torch
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        tokens = []
        with self._lock, torch.inference_mode():
            for _ in range(max_tokens):
                logits = self.model(input_ids=ids).logits[0, -1].float()
                logprobs = torch.log_softmax(logits, dim=-1)
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    chosen = int(torch.multinomial(probs, 1, generator=self._generator))
                else:
                    chosen = int(torch.argmax(logits))
                if chosen == self.tokenizer.eos_token_id:
                    break
                values, indices = logprobs.topk(top)
                alternatives: dict[str, float] = {}
                for value, index in zip(values.tolist(), indices.tolist(), strict=True):
                    alternatives.setdefault(self.tokenizer.decode([index]), value)
                tokens.append(
                    (self.tokenizer.decode([chosen]), float(logprobs[chosen]), alternatives)
                )
                ids = torch.cat([ids, torch.tensor([[chosen]])], dim=1)
        return Generated("".join(t[0] for t in tokens), tokens)


class ScriptedBackend:
    """No model: a deterministic letter answer per prompt, with a made-up distribution."""

    def __init__(self, answers: str = "ABC") -> None:
        self._answers = answers

    def count(self, text: str) -> int:
        return max(1, len(text.split()))

    def format(self, prompt: str, chat: bool) -> str:
        return prompt

    def generate(self, text: str, max_tokens: int, temperature: float, top: int) -> Generated:
        digest = hashlib.sha256(text.encode()).digest()
        weights = [1 + b for b in digest[: len(self._answers)]]
        total = sum(weights)
        logprobs = {a: math.log(w / total) for a, w in zip(self._answers, weights, strict=True)}
        best = max(logprobs, key=lambda a: logprobs[a])
        return Generated(best, [(best, logprobs[best], dict(list(logprobs.items())[:top]))])


@dataclass
class Switches:
    """What the server does to requests; tests flip these while it runs."""

    model_name: str = "tiny"
    api_key: str | None = None
    latency_s: float = 0.0  # every answer takes at least this long
    fault_rate: float = 0.0  # share of requests that fail with a random FAULT_KIND
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fail_next: collections.deque[str] = field(default_factory=collections.deque)
    timeout_sleep_s: float = 1.5  # how long a "timeout" fault stalls
    slow_s: float = 0.3
    logprobs: str = "full"  # full | ignore (answer without) | reject (400)
    off_label: str | None = None  # "always" or "unless_strict": answer "banana"
    models_endpoint: bool = True
    fail_if_prompt_has: str | None = None  # always 500 for prompts containing this
    mangle: Callable[[dict[str, Any]], None] | None = None  # edits each 200 reply in place
    drip_s: float = 0.0  # send each completion one byte at a time, this far apart
    drip_models_s: float = 0.0  # the same for GET /models
    pad_bytes: int = 0  # add this much padding to each 200 reply
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


class FakeOpenAIServer:
    """Start with :meth:`start` (port chosen by the OS), stop with :meth:`stop`."""

    def __init__(self, backend: Any, switches: Switches | None = None, seed: int = 0) -> None:
        self.backend = backend
        self.switches = switches or Switches()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.prompts: list[str] = []
        self.completed: collections.Counter[str] = collections.Counter()  # prompt → 200s sent
        self.headers_seen: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._tls = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    @property
    def authorizations(self) -> list[str]:
        """Every Authorization header received (to prove a key was sent)."""
        with self.lock:
            return [h["Authorization"] for h in self.headers_seen if "Authorization" in h]

    def start(self, tls: ssl.SSLContext | None = None) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._tls = tls is not None
        if tls is not None:
            # The handshake runs in the handler's thread, so a refused one harms no other.
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            # A client refusing the certificate is the point of some tests: no traceback.
            self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def pick_fault(self) -> str | None:
        with self.lock:
            if self.switches.fail_next:
                return self.switches.fail_next.popleft()
            if self.switches.fault_rate and self.rng.random() < self.switches.fault_rate:
                return self.rng.choice(self.switches.fault_kinds)
        return None

    def answer(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        """The reply body for a well-formed request (the model's real output)."""
        prompt = prompt_of(body, chat)
        text = self.backend.format(prompt, chat)
        if chat:
            want = int(body.get("top_logprobs") or 0) if body.get("logprobs") is True else None
        else:
            want = None if body.get("logprobs") is None else int(body["logprobs"])
        choices = []
        for index in range(int(body.get("n") or 1)):
            generated = self._generate(prompt, text, body)
            choices.append(
                _choice(generated, index, chat, want if self.switches.logprobs == "full" else None)
            )
        completion = sum(len(c["_tokens"]) for c in choices)
        for c in choices:
            del c["_tokens"]
        return {
            "id": "fake", "object": "chat.completion" if chat else "text_completion",
            "model": body["model"], "choices": choices,
            "usage": {"prompt_tokens": self.backend.count(text),
                      "completion_tokens": completion,
                      "total_tokens": self.backend.count(text) + completion},
        }  # fmt: skip

    def _generate(self, prompt: str, text: str, body: dict[str, Any]) -> Generated:
        off = self.switches.off_label
        if off == "always" or (off == "unless_strict" and "nothing else" not in prompt):
            return Generated("banana", [("banana", -0.05, {"banana": -0.05, "apple": -3.0})])
        return self.backend.generate(
            text, int(body.get("max_tokens") or 16), float(body.get("temperature") or 0.0), 20
        )


def prompt_of(body: dict[str, Any], chat: bool) -> str:
    return str(body["messages"][-1]["content"] if chat else body["prompt"])


def _choice(generated: Generated, index: int, chat: bool, top: int | None) -> dict[str, Any]:
    tokens = generated.tokens
    choice: dict[str, Any] = {"index": index, "finish_reason": "length", "_tokens": tokens}
    if chat:
        choice["message"] = {"role": "assistant", "content": generated.text}
        choice["logprobs"] = None if top is None else {"content": [
            {"token": t, "logprob": lp, "bytes": None,
             "top_logprobs": [{"token": k, "logprob": v} for k, v in list(alts.items())[:top]]}
            for t, lp, alts in tokens
        ]}  # fmt: skip
    else:
        choice["text"] = generated.text
        choice["logprobs"] = (
            None
            if top is None
            else {
                "tokens": [t for t, _, _ in tokens],
                "token_logprobs": [lp for _, lp, _ in tokens],
                "top_logprobs": [dict(list(alts.items())[:top]) for _, _, alts in tokens],
                "text_offset": [0 for _ in tokens],
            }
        )
    return choice


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.request.close()
                raise
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every answer (real servers set it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              *, cut: bool = False, drip_s: float = 0.0) -> None:  # fmt: skip
        payload = json.dumps(body).encode()
        if cut:
            payload = payload[: len(payload) // 2]
        switches = self.fake.switches
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if switches.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if drip_s:
                for index in range(len(payload)):
                    self.wfile.write(payload[index : index + 1])
                    self.wfile.flush()
                    time.sleep(drip_s)
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client gave up (a timeout): nothing to do

    def _error(self, status: int, message: str, kind: str) -> None:
        self.fake.outcomes[str(status)] += 1
        self._send(status, {"error": {"message": message, "type": kind, "code": status}},
                   {"Retry-After": "0"} if status == 429 else None)  # fmt: skip

    def _authorised(self) -> bool:
        with self.fake.lock:
            self.fake.headers_seen.append(dict(self.headers))
        key = self.fake.switches.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._error(401, "Incorrect API key provided", "invalid_request_error")
        return False

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/models" or not self.fake.switches.models_endpoint:
            self._error(404, "not found", "not_found")
            return
        self._send(
            200,
            {
                "object": "list",
                "data": [
                    {"id": self.fake.switches.model_name, "object": "model", "owned_by": "fake"}
                ],
            },
            drip_s=self.fake.switches.drip_models_s,
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self._authorised():
            return
        chat = self.path.rstrip("/") == "/v1/chat/completions"
        if not chat and self.path.rstrip("/") != "/v1/completions":
            self._error(404, "not found", "not_found")
            return
        with self.fake.lock:
            self.fake.prompts.append(prompt_of(body, chat))
        if body.get("model") != self.fake.switches.model_name:
            self._error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
            return
        if body.get("stream"):
            self._error(400, "streaming is not supported here", "invalid_request_error")
            return
        if self.fake.switches.logprobs == "reject" and body.get("logprobs"):
            self._error(400, "logprobs are not supported by this server", "invalid_request")
            return
        self._respond(body, chat)

    def _respond(self, body: dict[str, Any], chat: bool) -> None:
        fake, start = self.fake, time.monotonic()
        marker = fake.switches.fail_if_prompt_has
        fault = "500" if marker and marker in prompt_of(body, chat) else fake.pick_fault()
        if fault in ("429", "500", "503"):
            self._error(int(fault), "injected fault", "server_error")
            return
        if fault == "reset":
            fake.outcomes["reset"] += 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "timeout":
            fake.outcomes["timeout"] += 1
            time.sleep(fake.switches.timeout_sleep_s)
            self.close_connection = True
            return
        reply = fake.answer(body, chat)
        if fault == "slow":
            time.sleep(fake.switches.slow_s)
        time.sleep(max(0.0, fake.switches.latency_s - (time.monotonic() - start)))
        if fault == "truncated":
            fake.outcomes["truncated"] += 1
            self._send(200, reply, cut=True)
            return
        fake.outcomes["200"] += 1
        with fake.lock:
            fake.completed[prompt_of(body, chat)] += 1
        if fake.switches.mangle is not None:
            fake.switches.mangle(reply)
        if fake.switches.pad_bytes:
            reply["padding"] = "x" * fake.switches.pad_bytes
        self._send(200, reply, drip_s=fake.switches.drip_s)
