"""Echo server on gpm.net: one goroutine per connection (Go's classic shape).

    python examples/echo_server.py [127.0.0.1:7007] [--procs N] [--seconds S]

Serves until Ctrl-C, or for S seconds.  Try it with examples/echo_client.py.
"""

import argparse

import gpm
import gpm.net as net


def handle(c):
    with c:
        while True:
            data = c.read()
            if not data:          # EOF: the client closed
                return
            c.write(data)


def serve(ln):
    while True:
        try:
            c = ln.accept()
        except net.ClosedError:   # the listener was closed: stop accepting
            return
        gpm.go(handle, c)


def main(address, seconds):
    ln = net.listen("tcp", address)
    print(f"echo server on {ln.addr[0]}:{ln.addr[1]} (procs={gpm.gomaxprocs()})", flush=True)
    gpm.go(serve, ln)
    if seconds:
        gpm.sleep(seconds)
    else:
        gpm.select()              # block forever (Ctrl-C stops gpm.run)
    ln.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("address", nargs="?", default="127.0.0.1:7007")
    ap.add_argument("--procs", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=0.0)
    a = ap.parse_args()
    try:
        gpm.run(main, a.address, a.seconds, procs=a.procs)
    except KeyboardInterrupt:
        pass
