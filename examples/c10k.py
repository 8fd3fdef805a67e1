"""C10K: hold 10,000 concurrent loopback connections, one parked goroutine each,
and print the memory per connection.

    python examples/c10k.py [-n 10000] [--procs 2]

The server (this process) accepts N connections; each gets a goroutine parked
in ``Conn.read`` (the idle-connection shape of a real server).  The clients
are plain sockets in a child process, so the figure counts only the server
side: (RSS with N idle connections - RSS before) / N.  Then every client sends
one byte, every goroutine echoes it back (all N are alive), and all close.

Raises RLIMIT_NOFILE toward the hard limit where allowed; if the limit is
too low, N is reduced to fit and the output says so.
"""

import argparse
import resource
import subprocess
import sys
import time

import gpm
import gpm.net as net

CHILD = r"""
import resource, socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    socks.append(s)
print("connected", flush=True)
sys.stdin.readline()                      # go: ping every connection
for s in socks:
    s.sendall(b"!")
for s in socks:
    if s.recv(1) != b"!":
        raise SystemExit("bad echo")
print("echoed", flush=True)
sys.stdin.readline()                      # close all
for s in socks:
    s.close()
"""


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def handle(c, done):
    with c:
        b = c.read(1)                     # parked here while idle
        if b:
            c.write(b)
        c.read(1)                         # wait for the client's close (EOF)
    done.done()


def main(n):
    ln = net.listen("tcp", "127.0.0.1:0", backlog=min(n, 4096))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(ln.addr[1])],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        gpm.sleep(0.05)
        base = rss_kb()
        done = gpm.sync.WaitGroup()
        t0 = time.perf_counter()
        for _ in range(n):
            c = ln.accept()
            done.add(1)
            gpm.go(handle, c, done)
        # Let every handler start and park in read (bounded wait).
        deadline = time.monotonic() + 30
        while gpm.stats().goroutines < n + 1 and time.monotonic() < deadline:
            gpm.sleep(0.01)
        gpm.sleep(0.1)
        held = rss_kb()
        t_accept = time.perf_counter() - t0
        line = gpm.syscall(child.stdout.readline)
        assert line.strip() == "connected", line
        print(f"{n} connections accepted in {t_accept:.2f}s; goroutines={gpm.num_goroutine()}")
        print(f"server RSS {base / 1024:.1f} MB -> {held / 1024:.1f} MB: "
              f"{(held - base) / n:.2f} KB per idle connection (goroutine + Conn + socket)")
        t1 = time.perf_counter()
        child.stdin.write("go\n")
        child.stdin.flush()
        line = gpm.syscall(child.stdout.readline)
        assert line.strip() == "echoed", line
        print(f"every connection echoed one byte in {time.perf_counter() - t1:.2f}s")
        child.stdin.write("close\n")
        child.stdin.flush()
        done.wait()
    finally:
        ln.close()
        gpm.syscall(child.wait, 60)
        child.stdin.close()
        child.stdout.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    n = a.n
    limit = raise_nofile(n + 200)
    if limit < n + 200:
        n = max(100, limit - 200)
        print(f"RLIMIT_NOFILE is {limit}: holding {n} connections instead of {a.n}")
    gpm.run(main, n, procs=a.procs)
