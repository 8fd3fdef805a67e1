"""Fallback load generator for bench_echo.py, used only when gcc cannot build
echo_client.c.  Same command line, same behaviour, same JSON output:

    python echo_client.py HOST PORT CONNS ROUNDS MSGSIZE TIMEOUT_S

One thread, one selector; every connection keeps one request in flight.  It
burns far more CPU per request than the C client, so absolute numbers are
lower, but it is still the same client for every server in a run.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time


def main(argv: list[str]) -> int:
    host, port, nconns, rounds, msgsize, timeout = argv
    port, nconns, rounds, msgsize = int(port), int(nconns), int(rounds), int(msgsize)
    timeout = float(timeout)

    sel = selectors.DefaultSelector()
    state = {}  # sock -> [payload, done, received bytes, sent_at]
    for i in range(nconns):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        payload = bytes([ord("A") + i % 26]) * msgsize
        state[s] = [payload, 0, b"", 0.0]
        sel.register(s, selectors.EVENT_READ)

    lat: list[float] = []
    errors = 0
    timed_out = False
    start = time.monotonic()
    deadline = start + timeout

    def close(s):
        sel.unregister(s)
        s.close()
        del state[s]

    for s, st in list(state.items()):
        st[3] = time.monotonic()
        s.sendall(st[0])  # 64 bytes on a fresh socket never blocks

    while state:
        if time.monotonic() >= deadline:
            timed_out = True
            break
        for key, _ in sel.select(0.1):
            s = key.fileobj
            st = state[s]
            try:
                chunk = s.recv(msgsize - len(st[2]))
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                errors += 1
                close(s)
                continue
            st[2] += chunk
            if len(st[2]) < msgsize:
                continue
            t1 = time.monotonic()
            if st[2] != st[0]:
                errors += 1
                close(s)
                continue
            lat.append(t1 - st[3])
            st[1] += 1
            st[2] = b""
            if st[1] >= rounds or t1 >= deadline:
                close(s)
                continue
            st[3] = t1
            s.sendall(st[0])
    elapsed = time.monotonic() - start
    for s in list(state):
        close(s)

    lat.sort()
    pick = (lambda q: lat[int(q * (len(lat) - 1))] * 1e6) if lat else (lambda q: 0.0)
    print(json.dumps({
        "requests": len(lat), "elapsed_s": elapsed,
        "req_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "p50_us": pick(0.50), "p99_us": pick(0.99), "max_us": pick(1.0),
        "errors": errors, "conns": nconns, "timed_out": int(timed_out),
    }))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
