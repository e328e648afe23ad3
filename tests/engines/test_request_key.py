"""The call-cache key of a request: a pure function of its fields and the engine name, computed once."""

import pickle

from prefsynth.schemas.engine import GenRequest, Message


def chat(text: str, **kw) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), **kw)


def test_key_depends_on_every_field_and_the_engine():
    base = chat("hi")
    keys = {base.key("e"), base.key("f"), chat("hi", seed=1).key("e"), chat("hi", n=2).key("e"),
            chat("hi", choices=("A", "B")).key("e"), chat("ho").key("e"), GenRequest(prompt="hi").key("e")}
    assert len(keys) == 7


def test_a_copy_with_changes_is_keyed_afresh():
    req = chat("hi")
    before = req.key("e")
    changed = req.model_copy(update={"seed": 7})
    assert changed.key("e") == chat("hi", seed=7).key("e") != before
    assert req.model_copy().key("e") == before


def test_the_memo_is_not_part_of_equality_or_hash():
    keyed, fresh = chat("hi"), chat("hi")
    keyed.key("e")
    assert keyed == fresh and hash(keyed) == hash(fresh) and len({keyed, fresh}) == 1
    assert keyed != chat("ho")
    back = pickle.loads(pickle.dumps(keyed))  # how a batch reaches a Ray worker
    assert back == fresh and back.key("e") == fresh.key("e")
    assert back.key("f") == fresh.key("f")  # another engine: recomputed, not the memo of "e"
