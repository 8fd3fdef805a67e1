"""Ordinary libraries inside goroutines under gpm.monkey, against real local peers:
requests/urllib3 and http.client (HTTP and HTTPS with trustme), redis-py against redis-server,
smtplib against a local SMTP server.  Each proves no M blocks by a count: the peer holds every
answer until N requests are in flight at once, on procs=1."""

from tests.monkey.patched import run_patched, lines

# Until the threading/queue items land, patch the items this half provides.
MINE = ("gpm.monkey.patch_all(**{k: False for k in ('threading', 'queue') "
        "if not __import__('importlib.util').util.find_spec('gpm.monkey._' + k)})")


def test_requests_http_and_https_many_goroutines_on_one_p():
    out = run_patched("""
        import os, tempfile, requests, gpm
        from tests.monkey.servers import GaugeHTTPServer, tls_pair
        sctx, cctx, ca = tls_pair()
        pem = os.path.join(tempfile.mkdtemp(), "ca.pem")
        ca.cert_pem.write_to_path(pem)
        N = 50
        for tls in (None, sctx):
            with GaugeHTTPServer(hold=N, tls=tls) as srv:
                def get():
                    r = requests.get(srv.url, verify=pem, timeout=30)
                    return r.status_code, r.content
                gs = []
                def main():
                    gs.extend(gpm.go(get) for _ in range(N))
                    return sorted(set(g.join() for g in gs))
                print("https" if tls else "http", gpm.run(main, procs=1), srv.max_inflight)
        # keep-alive: one Session, connections reused across two rounds
        with GaugeHTTPServer(hold=N) as srv:
            s = requests.Session()
            a = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=N)
            s.mount("http://", a)
            def main():
                res = set()
                for _ in range(2):
                    srv.max_inflight = 0
                    gs = [gpm.go(lambda: s.get(srv.url, timeout=30).content) for _ in range(N)]
                    res |= {g.join() for g in gs}
                return sorted(res)
            print("keepalive", gpm.run(main, procs=1), srv.connections)
    """, patch=MINE, timeout=90)
    assert lines(out) == {"http": "[(200, b'ok')] 50", "https": "[(200, b'ok')] 50",
                          "keepalive": "[b'ok'] 50"}


def test_urllib3_and_http_client_mixed_with_plain_threads():
    out = run_patched("""
        import http.client, threading, urllib3, gpm
        from tests.monkey.servers import GaugeHTTPServer
        N = 20
        # 10 goroutines (procs=1) and 10 plain threads share one urllib3 PoolManager
        with GaugeHTTPServer(hold=N) as srv:
            pm = urllib3.PoolManager(maxsize=N)
            res = []
            def get():
                res.append(pm.request("GET", srv.url, timeout=30).data)
            def main():
                ths = [threading.Thread(target=get) for _ in range(N // 2)]
                for t in ths:
                    t.start()
                gs = [gpm.go(get) for _ in range(N // 2)]
                for g in gs:
                    g.join()
                for t in ths:
                    t.join()
            gpm.run(main, procs=1)
            print("urllib3", sorted(set(res)), len(res), srv.max_inflight)
        with GaugeHTTPServer(hold=N) as srv:
            def get2():
                c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
                c.request("GET", "/")
                b = c.getresponse().read()
                c.close()
                return b
            def main():
                gs = [gpm.go(get2) for _ in range(N)]
                return sorted({g.join() for g in gs})
            print("httpclient", gpm.run(main, procs=1), srv.max_inflight)
    """, patch=MINE, timeout=60)
    assert lines(out) == {"urllib3": "[b'ok'] 20 20", "httpclient": "[b'ok'] 20"}


def test_redis_blpop_and_get_set_from_many_goroutines(redis_server):
    out = run_patched("""
        import sys, redis, gpm
        port = int(sys.argv[1])
        N = 50
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
        def main():
            # N goroutines block in BLPOP on their own key; only when the server reports all N
            # blocked does main push.  On procs=1 that needs every BLPOP to park, not block its M.
            def pop(i):
                return r.blpop(f"q{i}", timeout=20)
            gs = [gpm.go(pop, i) for i in range(N)]
            while int(r.info("clients")["blocked_clients"]) < N:
                gpm.sleep(0.01)
            blocked = int(r.info("clients")["blocked_clients"])
            for i in range(N):
                r.rpush(f"q{i}", f"v{i}")
            popped = [g.join() for g in gs]
            ok = popped == [(f"q{i}".encode(), f"v{i}".encode()) for i in range(N)]
            # GET/SET from 100 goroutines, 50 each
            wg = gpm.sync.WaitGroup()
            def worker(i):
                for j in range(50):
                    r.set(f"k{i}:{j}", j)
                    assert int(r.get(f"k{i}:{j}")) == j
            for i in range(100):
                wg.go(worker, i)
            wg.wait()
            return blocked, ok, len(r.keys("k*"))
        print("redis", gpm.run(main, procs=1))
    """, patch=MINE, args=(str(redis_server),), timeout=60)
    assert lines(out) == {"redis": "(50, True, 5000)"}


def test_smtplib_many_goroutines_on_one_p():
    out = run_patched("""
        import smtplib, gpm
        from email.message import EmailMessage
        from tests.monkey.servers import GaugeSMTPServer
        N = 20
        with GaugeSMTPServer(hold=N) as srv:
            def send(i):
                m = EmailMessage()
                m["From"], m["To"], m["Subject"] = "a@example.com", f"b{i}@example.com", f"m{i}"
                m.set_content(f"body {i}")
                with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as s:
                    s.ehlo()
                    return s.send_message(m)
            def main():
                gs = [gpm.go(send, i) for i in range(N)]
                return [g.join() for g in gs]
            res = gpm.run(main, procs=1)
            print("smtp", res == [{}] * N, len(srv.messages), srv.max_indata)
    """, patch=MINE)
    assert lines(out) == {"smtp": "True 20 20"}
