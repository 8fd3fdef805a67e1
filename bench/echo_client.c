/*
 * Load generator for bench/bench_echo.py: CONNS concurrent clients, each doing
 * ROUNDS request/response round trips of MSGSIZE bytes against an echo server,
 * driven by one epoll loop in one thread (so the client costs little CPU and
 * is the same for every server under test).
 *
 *   echo_client HOST PORT CONNS ROUNDS MSGSIZE TIMEOUT_S
 *
 * Each connection keeps exactly one request in flight: write MSGSIZE bytes,
 * wait until MSGSIZE bytes have come back (checked against what was sent),
 * record the latency, send the next one.  The run stops when every
 * connection has done ROUNDS round trips, or at TIMEOUT_S seconds.
 *
 * Prints one JSON object on stdout:
 *   {"requests":..,"elapsed_s":..,"req_per_s":..,"p50_us":..,"p99_us":..,
 *    "max_us":..,"errors":..,"conns":..,"timed_out":0|1}
 * Exit status: 0 on success, 1 if any connection failed, 2 on usage or
 * setup errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    int alive;           /* 0 once finished or failed */
    long done;           /* round trips completed */
    size_t wpos;         /* bytes of the current request written */
    size_t rpos;         /* bytes of the current reply read */
    double sent_at;      /* when the current request started */
    unsigned char tag;   /* payload byte, different per connection */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t msgsize;
static unsigned char *sendbuf;  /* msgsize bytes, refilled with the tag */
static unsigned char *recvbuf;  /* scratch for replies */

/* Write the rest of the current request. 0: all written; 1: would block;
 * -1: error. */
static int flush_request(struct conn *c) {
    memset(sendbuf, c->tag, msgsize);
    while (c->wpos < msgsize) {
        ssize_t w = write(c->fd, sendbuf + c->wpos, msgsize - c->wpos);
        if (w > 0) {
            c->wpos += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 1;
        } else {
            return -1;
        }
    }
    return 0;
}

static int set_interest(int ep, struct conn *c, unsigned events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT CONNS ROUNDS MSGSIZE TIMEOUT_S\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int nconns = atoi(argv[3]);
    long rounds = atol(argv[4]);
    msgsize = (size_t)atol(argv[5]);
    double timeout = atof(argv[6]);
    if (nconns < 1 || rounds < 1 || msgsize < 1 || timeout <= 0) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo_client: bad IPv4 address %s\n", host);
        return 2;
    }

    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    double *lat = malloc(sizeof(double) * (size_t)nconns * (size_t)rounds);
    sendbuf = malloc(msgsize);
    recvbuf = malloc(msgsize);
    int ep = epoll_create1(0);
    if (!conns || !lat || !sendbuf || !recvbuf || ep < 0) {
        perror("echo_client: setup");
        return 2;
    }

    /* Connect everything first (blocking connect: loopback is quick), so the
     * timed part measures round trips, not connection set-up. */
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            perror("echo_client: connect");
            return 2;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->alive = 1;
        c->tag = (unsigned char)('A' + i % 26);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            perror("echo_client: epoll_ctl");
            return 2;
        }
    }

    long nlat = 0;
    int errors = 0, alive = nconns, timed_out = 0;
    double start = now(), deadline = start + timeout;

    /* Kick off the first request on every connection. */
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->sent_at = now();
        int r = flush_request(c);
        if (r < 0) { c->alive = 0; alive--; errors++; close(c->fd); }
        else if (r == 1) set_interest(ep, c, EPOLLIN | EPOLLOUT);
    }

    struct epoll_event events[256];
    while (alive > 0) {
        double t = now();
        if (t >= deadline) { timed_out = 1; break; }
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("echo_client: epoll_wait");
            break;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            if (!c->alive) continue;
            int failed = 0;
            if ((events[k].events & EPOLLOUT) && c->wpos < msgsize) {
                int r = flush_request(c);
                if (r < 0) failed = 1;
                else if (r == 0) set_interest(ep, c, EPOLLIN);
            }
            if (!failed && (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                ssize_t r = read(c->fd, recvbuf, msgsize - c->rpos);
                if (r > 0) {
                    /* The echo must be our own tag bytes. */
                    for (ssize_t j = 0; j < r; j++)
                        if (recvbuf[j] != c->tag) { failed = 1; break; }
                    c->rpos += (size_t)r;
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    failed = 1;  /* EOF or error before the reply was complete */
                }
            }
            if (!failed && c->rpos == msgsize && c->wpos == msgsize) {
                double t1 = now();
                lat[nlat++] = t1 - c->sent_at;
                c->done++;
                c->rpos = c->wpos = 0;
                if (c->done >= rounds || t1 >= deadline) {
                    c->alive = 0;
                    alive--;
                    close(c->fd);
                    continue;
                }
                c->sent_at = t1;
                int w = flush_request(c);
                if (w < 0) failed = 1;
                else if (w == 1) set_interest(ep, c, EPOLLIN | EPOLLOUT);
            }
            if (failed) {
                c->alive = 0;
                alive--;
                errors++;
                close(c->fd);
            }
        }
    }
    double elapsed = now() - start;
    for (int i = 0; i < nconns; i++)
        if (conns[i].alive) close(conns[i].fd);

    double p50 = 0, p99 = 0, pmax = 0;
    if (nlat > 0) {
        qsort(lat, (size_t)nlat, sizeof(double), cmp_double);
        p50 = lat[(long)(0.50 * (nlat - 1))];
        p99 = lat[(long)(0.99 * (nlat - 1))];
        pmax = lat[nlat - 1];
    }
    printf("{\"requests\": %ld, \"elapsed_s\": %.6f, \"req_per_s\": %.1f, "
           "\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
           "\"errors\": %d, \"conns\": %d, \"timed_out\": %d}\n",
           nlat, elapsed, elapsed > 0 ? nlat / elapsed : 0.0,
           p50 * 1e6, p99 * 1e6, pmax * 1e6, errors, nconns, timed_out);
    return errors ? 1 : 0;
}
