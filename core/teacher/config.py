"""What the teach stage is asked to do, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from core.errors import TeacherError
from core.teacher.sources import ENDPOINT_SPEC
from core.teacher.sources import parse_spec as parse_spec  # re-exported: part of the config's API
from core.teacher.transport import check_env_name

Mode = Literal["chat", "completions"]  # the endpoint API asked
LabelTokens = Literal["auto", "names", "letters"]  # how labels are answered
MAX_TOP_LOGPROBS = 20  # the OpenAI API's (and vLLM's default) ceiling
DEFAULT_REPLY_BYTES = 1 << 20
REPLY_BYTES_PER_TOKEN = 4096  # a generated token with 20 top logprobs, as JSON, with room


@dataclass(frozen=True, slots=True)
class TeachConfig:
    """The teach stage's settings (DESIGN §6 ``stillroom teach``).

    Attributes:
        teacher: ``hf:PATH``, ``openai:BASE_URL`` or ``labels``.
        model: the endpoint's model name (``openai:`` only).
        mode: ``chat`` or ``completions`` (``openai:`` only).
        api_key_env: the environment variable holding the API key; the OS keyring
            (service ``stillroom``, user = the endpoint host) is asked if it is unset.
        concurrency: requests in flight at once.
        rate: most requests per second (None: unlimited).
        timeout_s: the most seconds one request may take in all, from sending it to the
            last byte of the answer (a server that drips bytes cannot hold it longer).
        connect_timeout_s: seconds to wait for a connection.
        max_reply_bytes: the largest answer read (None: :data:`DEFAULT_REPLY_BYTES`, more
            for long generations: :data:`REPLY_BYTES_PER_TOKEN` per requested token); a
            longer one fails its record as "reply too large".
        allow_insecure_http: let an API key go over plain http to a non-loopback host
            (audited); without it such a run is refused.
        ca_bundle: a PEM file of the certificate authorities to trust for https (an
            organisation's internal CA); None: the system's.
        max_attempts: tries per request on 429, 5xx, timeouts and broken answers.
        backoff_s: the first retry's base delay; doubled each retry, with full jitter.
        breaker_threshold: consecutive failures that open the circuit breaker.
        breaker_cooldown_s: first pause of an open breaker; doubled while failures go on.
        breaker_trips: breaker openings without a success in between before giving up.
        price_in: currency per 1M input tokens, for the cost estimate.
        price_out: currency per 1M output tokens.
        samples: answers sampled per record when the endpoint has no logprobs.
        temperature: soft-label temperature for local models (default 1), sampling
            temperature for endpoints (default 0, or 1 when sampling).
        prompt_file: an edited prompt template (default: the task's built-in one).
        label_tokens: ``auto``, ``names`` or ``letters``: how labels are answered.
        use_logprobs: ask endpoints for logprobs.
        top_logprobs: alternatives per token (≤ 20).
        max_new_tokens: longest generation (generation task).
        batch_size: records per forward pass (local) and per store transaction.
        limit: label at most this many new records in this run.
    """

    teacher: str
    model: str | None = None
    mode: Mode = "chat"
    api_key_env: str = "STILLROOM_TEACHER_API_KEY"
    concurrency: int = 8
    rate: float | None = None
    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    max_reply_bytes: int | None = None
    allow_insecure_http: bool = False
    ca_bundle: Path | None = None
    max_attempts: int = 8
    backoff_s: float = 0.5
    breaker_threshold: int = 8
    breaker_cooldown_s: float = 1.0
    breaker_trips: int = 5
    price_in: float = 0.0
    price_out: float = 0.0
    samples: int = 1
    temperature: float | None = None
    prompt_file: Path | None = None
    label_tokens: LabelTokens = "auto"
    use_logprobs: bool = True
    top_logprobs: int = MAX_TOP_LOGPROBS
    max_new_tokens: int = 256
    batch_size: int = 16
    limit: int | None = None

    def validate(self) -> None:
        """Check the numbers and the teacher spec.

        Raises:
            TeacherError: a value is out of range or the spec is malformed.
        """
        prefix, _ = parse_spec(self.teacher)
        if prefix == ENDPOINT_SPEC.prefix and not self.model:
            raise TeacherError("an endpoint teacher needs a model name", "add --model NAME")
        check_env_name(self.api_key_env)
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise TeacherError(
                f"the CA bundle {self.ca_bundle} does not exist",
                "pass the PEM file of your organisation's certificate authority",
            )
        checks = [
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.rate is None or self.rate > 0, "--rate must be positive"),
            (self.timeout_s > 0 and self.connect_timeout_s > 0, "--timeout must be positive"),
            (self.max_attempts >= 1, "max attempts must be at least 1"),
            (self.price_in >= 0 and self.price_out >= 0, "prices cannot be negative"),
            (1 <= self.samples <= 64, "--samples must be between 1 and 64"),
            (self.temperature is None or self.temperature >= 0, "--temperature must be >= 0"),
            (1 <= self.top_logprobs <= MAX_TOP_LOGPROBS, "top logprobs must be 1..20"),
            (self.batch_size >= 1 and self.max_new_tokens >= 1, "sizes must be positive"),
            (self.limit is None or self.limit >= 1, "--limit must be at least 1"),
            (
                self.max_reply_bytes is None or self.max_reply_bytes >= 1024,
                "--max-reply-bytes must be at least 1024",
            ),
            (self.mode in get_args(Mode), "--mode must be chat or completions"),
            (self.label_tokens in get_args(LabelTokens), "bad --label-tokens"),
        ]
        for ok, message in checks:
            if not ok:
                raise TeacherError(message)


@dataclass(frozen=True, slots=True)
class TeachResult:
    """What a teach run did; counts and numbers only, never record contents.

    ``accuracy`` maps a split (and ``all``) to the teacher's figure against the human
    references, named by :attr:`metric`: its accuracy against the labels (classification)
    or its mean ROUGE-L against the reference texts (generation); ``accuracy_n`` to how
    many records that is.
    ``invalid_reasons`` counts the invalid outputs by why (``outside_label_set``,
    ``non_finite``, ``not_a_distribution``…), ``failed_reasons`` the records left for a
    re-run by why (``timed out``, ``reply too large``, ``HTTP 500``…); ``usage_ignored``
    counts answers whose reported token usage was impossible and was not billed.
    """

    teacher_id: str
    teacher_kind: str  # a :data:`core.teacher.sources.SOURCES` kind
    prompt_version: str
    task: str
    eligible: int
    already_stored: int
    labelled: int
    invalid: int
    failed: int
    cost: float
    cost_total: float
    input_tokens: int
    output_tokens: int
    attempts: int
    seconds: float
    records_per_s: float
    soft_label_sources: dict[str, int] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    accuracy_n: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    failed_reasons: dict[str, int] = field(default_factory=dict)
    usage_ignored: int = 0

    @property
    def metric(self) -> str:
        """What :attr:`accuracy` holds: ``accuracy`` or (generation) ``rouge_l``."""
        return "rouge_l" if self.task == "generation" else "accuracy"

    @property
    def metric_title(self) -> str:
        """The metric for people: ``accuracy vs human labels`` or ``ROUGE-L vs the
        reference texts``."""
        if self.task == "generation":
            return "ROUGE-L vs the reference texts"
        return "accuracy vs human labels"


def endpoint_host(config: TeachConfig) -> str | None:
    """The host an endpoint teacher talks to (for the egress allow-list), else None."""
    prefix, rest = parse_spec(config.teacher)
    return urlsplit(rest).hostname if prefix == ENDPOINT_SPEC.prefix else None
