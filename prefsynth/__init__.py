"""prefsynth: preference and process-reward datasets synthesized with LLMs."""

__version__ = "0.1.0"
