"""The one interface every model backend implements, and the factory that builds engines from config."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..schemas.engine import EngineConfig, GenRequest, GenResult


@runtime_checkable
class Engine(Protocol):
    """A model backend. `generate` returns exactly one `GenResult` per request, in order.

    A failed call is a `GenResult` with `error` set, never an exception, so one bad request does not sink a
    batch. `name` identifies backend + model and is part of every call-cache key.
    """

    name: str
    concurrency: int  # requests worth sending in one generate() call (1 for an in-process model)

    def generate(self, requests: list[GenRequest]) -> list[GenResult]: ...


class EngineError(RuntimeError):
    """An engine cannot be built or used at all (missing model file, bad server URL, ...)."""


def build_engine(config: EngineConfig) -> Engine:
    """Build an engine from its config. Backends are imported lazily: each has its own dependencies."""
    if config.kind == "llama_cpp":
        from .llama_cpp import LlamaCppEngine

        return LlamaCppEngine(config)
    if config.kind == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine(config)
    if config.kind == "vllm":
        from .vllm import VllmEngine

        return VllmEngine(config)
    if config.kind == "dry_run":
        from .dry_run import DryRunEngine

        return DryRunEngine(config)
    raise EngineError(f"unknown engine kind {config.kind!r}")
