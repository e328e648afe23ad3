"""Requests in flight, shared by the streams of one build: a request two overlapping groups ask at once is sent once.

Groups that overlap (runtime/overlap.py) plan against the call cache each on its own, so two groups asking the
same request while neither reply is in the cache yet would both send it. A sampling server answers them
differently, only the first reply is cached, and a rerun (two cache hits of that reply) gives other records. So a
stream claims the keys it is about to send; a key another stream has claimed is waited for instead, and both get
the one reply (and its follow-up), which is the one the cache keeps.

A claim is shared only with a stream asking the same follow-up (or none): the answer carries the owner's follow-up.
Each stream publishes its own claims before it waits for others', so no two streams wait on each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..schemas.engine import GenRequest
from ..tasks.generate import Answer, Followup


@dataclass
class _Claim:
    followup: Followup | None
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None  # None once done: the owner never got it (its build stopped)


class InFlight:
    def __init__(self) -> None:
        self._claims: dict[str, _Claim] = {}
        self._lock = threading.Lock()

    def claim(self, todo: list[tuple[str, GenRequest]], followup: Followup | None
              ) -> tuple[list[int], dict[int, _Claim], dict[int, _Claim]]:
        """Which positions of `todo` this stream sends, the claims it holds on them, and the positions another
        stream is sending already (their claims, to wait for)."""
        send, owned, theirs = [], {}, {}
        with self._lock:
            for pos, (key, _) in enumerate(todo):
                other = self._claims.get(key)
                if other is None:
                    owned[pos] = self._claims[key] = _Claim(followup)
                    send.append(pos)
                elif other.followup == followup:
                    theirs[pos] = other
                else:  # claimed with another follow-up: sent again rather than answered with the wrong one
                    send.append(pos)
        return send, owned, theirs

    def publish(self, todo: list[tuple[str, GenRequest]], owned: dict[int, _Claim],
                answers: dict[int, Answer]) -> None:
        """The owner's answers (a position missing: not sent) to whoever waits; its claims end."""
        with self._lock:
            for pos, claim in owned.items():
                if self._claims.get(todo[pos][0]) is claim:
                    del self._claims[todo[pos][0]]
        for pos, claim in owned.items():
            claim.answer = answers.get(pos)
            claim.done.set()

    @staticmethod
    def wait(claim: _Claim) -> Answer | None:
        claim.done.wait()
        return claim.answer
