"""Export formats (DESIGN.md §7): registry.py lists them; base.py says what a format is; one module per family
(preference.py, stepwise.py, rationale.py) and the Hugging Face layout (hf.py, card.py); layout.py: where each
format writes, OUT/NAME/vN/FORMAT/."""
