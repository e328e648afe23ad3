"""Step splitting keeps exact offsets; answers compare exactly after normalisation, never by substring."""

from __future__ import annotations

from fractions import Fraction

import pytest

from prefsynth.schemas.process import Solution, Step
from prefsynth.tasks.answers import (
    answers_match, check_answer, extract_answer, extract_boxed, normalize_number,
)
from prefsynth.tasks.steps import (
    completion_steps, make_steps, prefix_of, split_steps, step_spans, steps_from_texts,
)

TEXTS = [
    "",
    "one step only",
    "a = 1.\n\nb = 2.\n\nThe answer is 3.",
    "\n\nleading blank lines\n\nsecond",
    "trailing separator\n\n",
    "trailing spaces\n\nlast\n\n   \n",
    "runs of blank lines\n\n\n\n  \nnext\r\n\r\nwindows line ends",
    "   \n\n  ",
    "single\nnewlines\nstay\ninside\n\none step",
]


@pytest.mark.parametrize("text", TEXTS)
def test_steps_tile_the_text_exactly(text: str) -> None:
    steps = make_steps("sol", text)
    assert "".join(s.text for s in steps) == text
    for i, step in enumerate(steps):
        assert step.index == i
        assert text[step.start : step.end] == step.text
        assert prefix_of(steps, i) == text[: step.start]
        if text.strip():
            assert step.text.strip(), "a text with content has no blank step"
    assert [s.text for s in steps] == split_steps(text)


def test_blank_line_split_keeps_separator_with_step() -> None:
    assert split_steps("a\n\nb\n\n\nc") == ["a\n\n", "b\n\n\n", "c"]
    assert split_steps("\n\na\n\nb") == ["\n\na\n\n", "b"]
    assert split_steps("a\n\nb\n\n  ") == ["a\n\n", "b\n\n  "]
    assert split_steps("") == []


def test_configurable_separator_including_zero_width() -> None:
    assert split_steps("x\ny\nz", r"\n") == ["x\n", "y\n", "z"]
    text = "Step 1: a. Step 2: b. Step 3: c."
    assert split_steps(text, r"(?=Step \d+:)") == ["Step 1: a. ", "Step 2: b. ", "Step 3: c."]
    assert "".join(split_steps(text, r"(?=Step \d+:)")) == text


def test_steps_from_texts_and_completion_steps() -> None:
    prefix, completion = ["a\n\n", "b\n\n"], "\nc\n\nd"
    pieces = prefix + list(completion_steps(completion))
    steps = steps_from_texts("s", pieces)
    full = "".join(prefix) + completion
    assert all(full[s.start : s.end] == s.text for s in steps)
    assert steps[-1].end == len(full)
    assert completion_steps("  \n\n ") == ()


def test_step_record_rejects_wrong_offsets() -> None:
    with pytest.raises(ValueError):
        Step(solution_id="s", split_id="x", index=0, text="abc", start=0, end=2)


def test_step_spans_are_contiguous() -> None:
    spans = step_spans("a\n\nb\n\nc")
    assert spans == [(0, 3), (3, 6), (6, 7)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Natalia sold 48 clips.\n#### 72", "72"),
        ("#### 1,234", "1,234"),
        ("So the total is \\boxed{\\frac{3}{4}}.", "\\frac{3}{4}"),
        ("\\boxed{\\left(\\frac{1}{2}, \\{3\\}\\right)}", "\\left(\\frac{1}{2}, \\{3\\}\\right)"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("The answer is 42.", "42"),
        ("The answer is $1,000.", "1,000"),
        ("The final answer is: -7", "-7"),
        ("The answer is 3.5. Then we stop.", "3.5"),
        ("the answer is \\boxed{5}. The answer is 6", "6"),  # the last marker wins (issue 12 item 2)
        ("The answer is \\boxed{7}.", "7"),
        ("The final answer is $\\boxed{5}$. I hope it is correct.", "5"),
        ("\\boxed{7} then \\boxed{8", None),  # the last answer was cut off: unknown, not the earlier one
        ("no answer here", None),
        ("unclosed \\boxed{5", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_extract_boxed_nested_braces() -> None:
    assert extract_boxed("x \\boxed{a{b{c}}d} y") == "a{b{c}}d"
    assert extract_boxed("\\fbox{7}") == "7"


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("42", Fraction(42)),
        ("42.0", Fraction(42)),
        ("42.", Fraction(42)),
        ("$42", Fraction(42)),
        ("\\$42", Fraction(42)),
        ("1,234,567", Fraction(1234567)),
        ("-3/4", Fraction(-3, 4)),
        ("0.75", Fraction(3, 4)),
        (".5", Fraction(1, 2)),
        ("\\frac{3}{4}", Fraction(3, 4)),
        ("-\\dfrac{1}{8}", Fraction(-1, 8)),
        ("\\text{12}", Fraction(12)),
        ("1,2", None),
        ("12,34", None),
        ("3x", None),
        ("inf", None),
        ("1/0", None),
        ("", None),
    ],
)
def test_normalize_number(answer: str, value: Fraction | None) -> None:
    assert normalize_number(answer) == value


@pytest.mark.parametrize(
    ("predicted", "gold", "same"),
    [
        ("42", "4", False),  # the public OmegaPRM check accepts this by substring
        ("4", "42", False),
        ("142", "42", False),
        ("42.0", "42", True),
        ("$1,000", "1000", True),
        ("3/4", "0.75", True),
        ("\\frac{3}{4}", "0.75", True),
        ("0.333", "1/3", False),
        ("Yes", "yes", True),
        ("x + 1", "x+1", True),
        ("x+1", "x+10", False),
        ("12", "twelve", False),
        (None, "1", False),
    ],
)
def test_answers_match_exactly(predicted: str | None, gold: str, same: bool) -> None:
    assert answers_match(predicted, gold) is same


def test_check_answer_statuses() -> None:
    assert check_answer("x\n\nThe answer is 42.", "42") == ("42", "correct")
    assert check_answer("x\n\nThe answer is 42.", "4") == ("42", "incorrect")
    assert check_answer("I give up", "4") == (None, "unparseable")


def test_solution_correct_follows_status() -> None:
    s = Solution.create("p", "m", "text", "4", "unparseable")
    assert s.correct is False
    assert Solution.create("p", "m", "text", None, "timeout").correct is None
    with pytest.raises(ValueError):
        Solution(id="x", problem_id="p", model="m", text="t", correct=True, check_status="incorrect")


# Issue 12 item 1: answers a numeric gold used to reject though they state the same number.
@pytest.mark.parametrize(
    ("solution", "gold"),
    [
        ("So \\boxed{\\frac12}", "\\frac{1}{2}"),
        ("So \\boxed{5\\text{ cm}}", "5"),
        ("So \\boxed{50\\%}", "50"),
        ("So \\boxed{x=5}", "5"),
        ("The answer is \u22123.", "-3"),
    ],
)
def test_issue_cases_match_after_normalisation(solution: str, gold: str) -> None:
    assert check_answer(solution, gold).status == "correct"


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("**18**", Fraction(18)),
        ("{42}", Fraction(42)),
        ("\u22123", Fraction(-3)),
        ("18 dollars", Fraction(18)),
        ("5\\text{ cm}", Fraction(5)),
        ("5 \\mathrm{cm}", Fraction(5)),
        ("7 square meters", Fraction(7)),
        ("3.14159...", Fraction("3.14159")),
        ("3.14159\\ldots", Fraction("3.14159")),
        ("50\\%", Fraction(50)),
        ("x = 5", Fraction(5)),
        ("90^\\circ", Fraction(90)),
        ("\\frac12", Fraction(1, 2)),
        ("\\frac{1}2", Fraction(1, 2)),
    ],
)
def test_normalize_number_strips_decoration(answer: str, value: Fraction) -> None:
    assert normalize_number(answer) == value


@pytest.mark.parametrize(
    "answer",
    ["3x", "2 pi", "5 million", "3 thousand", "5 or 6", "x = y", "2x = 6", "1..3"],
)
def test_normalize_number_keeps_words_that_change_the_value(answer: str) -> None:
    assert normalize_number(answer) is None


def test_the_last_answer_marker_wins() -> None:
    text = "First try: \\boxed{7}.\n\nWait, that is wrong.\n\nThe answer is 8."
    assert extract_answer(text) == "8"
    assert check_answer(text, "8") == ("8", "correct")
    assert check_answer("#### 3\n\nThe answer is 4", "4").status == "correct"
    assert check_answer("The answer is 4.\n#### 3", "3").status == "correct"


@pytest.mark.parametrize(
    "text",
    [
        "So \\boxed{5}.\n\nLet me check: the answer is correct.",
        "So \\boxed{5}. The answer is not 6, since 6 is even.",
        "So \\boxed{5}. I think the answer isn't 6.",
        "#### 5\nTherefore the answer is the same as before.",
    ],
)
def test_a_later_sentence_about_the_answer_is_not_an_answer(text: str) -> None:
    assert extract_answer(text) == "5"
