"""Model-based property tests of the channel buffer (STYLE.md 7).

1. A RuleBasedStateMachine drives one buffered Chan with non-blocking
   sends/receives (select with default), close, len, against a deque model:
   every observation must match exactly.
2. Random programs of blocking sends/receives/closes on buffered channels
   run by several goroutines: no value lost or duplicated, each sender's
   values reach each receiver in order, len never exceeds cap.
"""

import collections

from hypothesis import given, settings, strategies as st, HealthCheck
from hypothesis.stateful import RuleBasedStateMachine, rule, invariant, initialize, precondition

import gpm
from gpm import sync
from tests.support import examples


class ChanMachine(RuleBasedStateMachine):
    @initialize(cap=st.integers(min_value=0, max_value=4))
    def setup(self, cap):
        self.c = gpm.Chan(cap)
        self.cap = cap
        self.model = collections.deque()
        self.closed = False
        self.next = 0

    @rule()
    def try_send(self):
        v = self.next
        self.next += 1
        if self.closed:
            try:
                gpm.select((self.c.send, v), gpm.default)
            except gpm.ClosedChannelError:
                return
            raise AssertionError("send on a closed channel did not raise")
        i, _ = gpm.select((self.c.send, v), gpm.default)
        if len(self.model) < self.cap:
            assert i == 0
            self.model.append(v)
        else:
            assert i == 1

    @rule(ok=st.booleans())
    def try_recv(self, ok):
        case = self.c.recv_ok if ok else self.c.recv
        i, got = gpm.select(case, gpm.default)
        if self.model:
            v = self.model.popleft()
            assert (i, got) == (0, (v, True) if ok else v)
        elif self.closed:
            assert (i, got) == (0, (None, False) if ok else None)
        else:
            assert i == 1

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self):
        self.c.close()
        self.closed = True

    @rule()
    def close_again(self):
        if self.closed:
            try:
                self.c.close()
            except gpm.ClosedChannelError:
                return
            raise AssertionError("double close did not raise")

    @invariant()
    def same_len(self):
        if hasattr(self, "c"):
            assert len(self.c) == len(self.model) <= self.cap


TestChanMachine = ChanMachine.TestCase
TestChanMachine.settings = settings(max_examples=examples(150), stateful_step_count=40, deadline=None)


programs = st.fixed_dictionaries({
    "cap": st.integers(min_value=0, max_value=3),
    "senders": st.lists(st.integers(min_value=0, max_value=15), min_size=1, max_size=4),
    "receivers": st.integers(min_value=1, max_value=3),
    "procs": st.sampled_from([1, 2]),
    "yields": st.lists(st.booleans(), min_size=1, max_size=8),
})


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_random_programs_conserve_values(prog):
    cap, senders, nrecv = prog["cap"], prog["senders"], prog["receivers"]
    yields = prog["yields"]

    def main():
        c = gpm.Chan(cap)
        out = gpm.Chan(1000)
        swg, rwg = sync.WaitGroup(), sync.WaitGroup()
        maxlen = [0]

        def sender(k, n):
            for i in range(n):
                c.send((k, i))
                maxlen[0] = max(maxlen[0], len(c))
                if yields[(k + i) % len(yields)]:
                    gpm.gosched()

        def receiver(r):
            got = []
            for v in c:
                got.append(v)
                if yields[(r + len(got)) % len(yields)]:
                    gpm.gosched()
            out.send(got)

        for k, n in enumerate(senders):
            swg.go(sender, k, n)
        for r in range(nrecv):
            rwg.go(receiver, r)
        swg.wait()
        c.close()
        rwg.wait()
        return [out.recv() for _ in range(nrecv)], maxlen[0]

    streams, maxlen = gpm.run(main, procs=prog["procs"])
    assert maxlen <= cap
    allv = [v for s in streams for v in s]
    assert sorted(allv) == sorted((k, i) for k, n in enumerate(senders) for i in range(n))
    for s in streams:                      # per-sender FIFO at every receiver
        for k in range(len(senders)):
            mine = [i for kk, i in s if kk == k]
            assert mine == sorted(mine)
