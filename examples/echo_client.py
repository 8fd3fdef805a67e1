"""Echo client on gpm.net: C concurrent connections x N round trips of S bytes.

    python examples/echo_client.py [127.0.0.1:7007] [-c 50] [-n 1000] [-s 64] [--procs N]

Each connection is one goroutine; prints requests/s and p50/p99 latency.
Without a running server it starts one in-process (examples/echo_server.py).
"""

import argparse
import time

import gpm
import gpm.net as net


def client(address, rounds, size, lat):
    msg = b"x" * size
    with net.dial("tcp", address, timeout=10) as c:
        c.set_deadline(time.monotonic() + 60)     # bounded: never hang forever
        for _ in range(rounds):
            t = time.perf_counter()
            c.write(msg)
            if c.read_exactly(size) != msg:
                raise AssertionError("echo mismatch")
            lat.append(time.perf_counter() - t)


def main(address, conns, rounds, size):
    ln = None
    try:
        net.dial("tcp", address, timeout=1).close()
    except OSError:
        import echo_server
        ln = net.listen("tcp", "127.0.0.1:0")
        gpm.go(echo_server.serve, ln)
        address = f"127.0.0.1:{ln.addr[1]}"
        print(f"no server found: started one in-process on {address}")
    lat = []
    t0 = time.perf_counter()
    wg = gpm.sync.WaitGroup()
    for _ in range(conns):
        wg.go(client, address, rounds, size, lat)
    wg.wait()
    dt = time.perf_counter() - t0
    if ln is not None:
        ln.close()
    lat.sort()
    n = len(lat)
    print(f"{n} round trips of {size} B over {conns} connections in {dt:.2f}s: "
          f"{n / dt:,.0f} req/s, p50 {lat[n // 2] * 1e6:.0f} us, p99 {lat[int(n * 0.99)] * 1e6:.0f} us")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("address", nargs="?", default="127.0.0.1:7007")
    ap.add_argument("-c", "--conns", type=int, default=50)
    ap.add_argument("-n", "--rounds", type=int, default=1000)
    ap.add_argument("-s", "--size", type=int, default=64)
    ap.add_argument("--procs", type=int, default=None)
    a = ap.parse_args()
    gpm.run(main, a.address, a.conns, a.rounds, a.size, procs=a.procs)
