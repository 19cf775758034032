#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"

/* ring_eventfd_cross: the protocol's own interrupt floor.
 * The parent is the rpmsg host (driver of both queues: it adds tx buffers and
 * posts empty rx buffers), the child the remote (device of both). Layouts as
 * in the virtio 1.x split ring and the rpmsg header; no event index, so every
 * message is kicked, as the interrupt-mode echo is. */
#define RING_N 16
#define RING_BUF 512
#define RING_SIZE 64

struct ring_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct ring_avail { uint16_t flags, idx, ring[RING_N], used_event; };
struct ring_used { uint16_t flags, idx; struct { uint32_t id, len; } ring[RING_N]; uint16_t avail_event; };
struct ring_vq {
    _Alignas(LINE) struct ring_desc desc[RING_N];
    _Alignas(LINE) struct ring_avail avail;
    _Alignas(LINE) struct ring_used used;
};
struct rpmsg_hdr { uint32_t src, dst, reserved; uint16_t len, flags; };
struct ring_shared {
    struct ring_vq tx, rx;
    _Alignas(LINE) uint8_t buf[2 * RING_N][RING_BUF]; /* tx buffers, then rx buffers */
};

/* Remote: one request from the tx queue, echoed into a posted rx buffer. */
static int ring_echo(struct ring_shared *s, uint16_t *tx_seen, uint16_t *rx_seen)
{
    uint8_t payload[RING_BUF];
    if (__atomic_load_n(&s->tx.avail.idx, __ATOMIC_ACQUIRE) == *tx_seen)
        return 10;
    uint16_t id = s->tx.avail.ring[*tx_seen % RING_N];
#if defined(RING_TEST_FAULT) && RING_TEST_FAULT == 1 /* tests only: the first request fails a check */
    if (*tx_seen == 0)
        return 11;
#endif
    if (id >= RING_N)
        return 11;
    /* Each field read once: what is checked is what is used. */
    uint64_t addr = s->tx.desc[id].addr;
    uint32_t dlen = s->tx.desc[id].len;
    if (addr >= RING_N || dlen > RING_BUF || dlen < sizeof(struct rpmsg_hdr))
        return 11;
    const struct rpmsg_hdr *in = (const struct rpmsg_hdr *)s->buf[addr];
    uint16_t len = in->len;
    if (len > dlen - sizeof(*in))
        return 12;
    uint32_t src = in->src, dst = in->dst;
    memcpy(payload, in + 1, len);
    uint16_t used = s->tx.used.idx;
    s->tx.used.ring[used % RING_N].id = id;
    s->tx.used.ring[used % RING_N].len = 0;
    __atomic_store_n(&s->tx.used.idx, (uint16_t)(used + 1), __ATOMIC_RELEASE);
    (*tx_seen)++;

    if (__atomic_load_n(&s->rx.avail.idx, __ATOMIC_ACQUIRE) == *rx_seen)
        return 13;
    uint16_t rid = s->rx.avail.ring[*rx_seen % RING_N];
    if (rid >= RING_N)
        return 14;
    uint64_t raddr = s->rx.desc[rid].addr;
    uint32_t rlen = s->rx.desc[rid].len;
    if (raddr < RING_N || raddr >= 2 * RING_N || rlen > RING_BUF || rlen < sizeof(struct rpmsg_hdr) + len)
        return 14;
    struct rpmsg_hdr *out = (struct rpmsg_hdr *)s->buf[raddr];
    *out = (struct rpmsg_hdr){ .src = dst, .dst = src, .len = len };
    memcpy(out + 1, payload, len);
    used = s->rx.used.idx;
    s->rx.used.ring[used % RING_N].id = rid;
    s->rx.used.ring[used % RING_N].len = (uint32_t)(sizeof(*out) + len);
    __atomic_store_n(&s->rx.used.idx, (uint16_t)(used + 1), __ATOMIC_RELEASE);
    (*rx_seen)++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the publication before the kick */
    return 0;
}

/* Host: reclaims the tx buffers the remote gave back, then sends one request. */
static int ring_send(struct ring_shared *s, uint16_t *free_ids, int *nfree, uint16_t *tx_used_seen, const uint8_t *payload)
{
    uint16_t used = __atomic_load_n(&s->tx.used.idx, __ATOMIC_ACQUIRE);
    for (; *tx_used_seen != used; (*tx_used_seen)++) {
        uint32_t id = s->tx.used.ring[*tx_used_seen % RING_N].id;
        if (id >= RING_N || *nfree >= RING_N)
            return -1;
        free_ids[(*nfree)++] = (uint16_t)id;
    }
    if (*nfree == 0)
        return -1;
    uint16_t id = free_ids[--(*nfree)];
    struct rpmsg_hdr *h = (struct rpmsg_hdr *)s->buf[s->tx.desc[id].addr];
    *h = (struct rpmsg_hdr){ .src = 0x400, .dst = 0x401, .len = RING_SIZE };
    memcpy(h + 1, payload, RING_SIZE);
    s->tx.desc[id].len = (uint32_t)(sizeof(*h) + RING_SIZE);
#if defined(RING_TEST_FAULT) && RING_TEST_FAULT == 2 /* tests only: a descriptor shorter than the header it claims */
    s->tx.desc[id].len = 8;
    h->len = RING_BUF + 100;
#endif
    uint16_t avail = s->tx.avail.idx;
    s->tx.avail.ring[avail % RING_N] = id;
    __atomic_store_n(&s->tx.avail.idx, (uint16_t)(avail + 1), __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return 0;
}

/* Host: takes the echo, checks it, and posts its buffer again. */
static int ring_take(struct ring_shared *s, uint16_t *rx_used_seen, const uint8_t *payload)
{
    if (__atomic_load_n(&s->rx.used.idx, __ATOMIC_ACQUIRE) == *rx_used_seen)
        return -1;
    uint32_t id = s->rx.used.ring[*rx_used_seen % RING_N].id;
    uint32_t used_len = s->rx.used.ring[*rx_used_seen % RING_N].len;
    if (id >= RING_N || used_len > RING_BUF)
        return -1;
    const struct rpmsg_hdr *h = (const struct rpmsg_hdr *)s->buf[s->rx.desc[id].addr];
    uint8_t copy[RING_BUF];
    uint16_t len = h->len;
    /* As virtio_rpmsg's rpmsg_recv_single: the header's length must fit what the device says it wrote. */
    if (len != RING_SIZE || used_len < sizeof(*h) + len || h->src != 0x401)
        return -1;
    memcpy(copy, h + 1, len);
    (*rx_used_seen)++;
    uint16_t avail = s->rx.avail.idx;
    s->rx.avail.ring[avail % RING_N] = (uint16_t)id;
    __atomic_store_n(&s->rx.avail.idx, (uint16_t)(avail + 1), __ATOMIC_RELEASE);
    return memcmp(copy, payload, len) == 0 ? 0 : -1;
}

/* A child that failed a check woke us and is exiting with a status that says which check: let it, so the report names
 * it (killing it at once raced its _exit: sometimes SIGKILL was all that was left to report). A child still blocked
 * (our own step failed first) is killed after the grace. */
static void stop_child(pid_t pid)
{
    const struct timespec tick = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 200; i++) {
        siginfo_t info = { 0 };
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid)
            return; /* exited (reap collects it), or not ours to wait for */
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
}

int run_ring(int a, int b, uint64_t *samples)
{
    long total = warmup + iterations;
    struct ring_shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int to_child = eventfd(0, EFD_CLOEXEC), to_parent = eventfd(0, EFD_CLOEXEC);
    if (s == MAP_FAILED || to_child < 0 || to_parent < 0) {
        perror("ring set-up");
        goto release;
    }
    uint16_t free_ids[RING_N];
    for (int i = 0; i < RING_N; i++) {
        s->tx.desc[i] = (struct ring_desc){ .addr = (uint64_t)i, .len = RING_BUF };
        s->rx.desc[i] = (struct ring_desc){ .addr = (uint64_t)(RING_N + i), .len = RING_BUF, .flags = 2 /* write */ };
        s->rx.avail.ring[i] = (uint16_t)i;
        free_ids[i] = (uint16_t)i;
    }
    s->rx.avail.idx = RING_N;
    pid_t pid = spawn(b);
    if (pid < 0) {
        perror("fork");
        goto release;
    }
    if (pid == 0) {
        uint16_t tx_seen = 0, rx_seen = 0;
        for (long i = 0; i < total; i++) {
            if (read_one(to_child) != 0)
                _exit(3);
            int bad = ring_echo(s, &tx_seen, &rx_seen); /* which check failed, in the exit status */
            if (bad != 0) {
                /* Wake the parent (blocked on this kick): it finds no echo, reaps, and reports the status,
                 * instead of waiting for the run's watchdog to kill everything unexplained. */
                (void)write_one(to_parent);
                _exit(bad);
            }
            if (write_one(to_parent) != 0)
                _exit(3);
        }
        _exit(0);
    }
    uint8_t payload[RING_SIZE];
    int nfree = RING_N, failed = 0;
    uint16_t tx_used_seen = 0, rx_used_seen = 0;
    for (long i = 0; i < total && !failed; i++) {
        memset(payload, (int)(i & 0xff), sizeof(payload));
        uint64_t t0 = now_ns();
        failed = ring_send(s, free_ids, &nfree, &tx_used_seen, payload) != 0 || write_one(to_child) != 0
            || read_one(to_parent) != 0 || ring_take(s, &rx_used_seen, payload) != 0;
        uint64_t t1 = now_ns();
        if (i >= warmup)
            samples[i - warmup] = t1 - t0;
    }
    if (failed) {
        fprintf(stderr, "ring echo: a step failed\n");
        stop_child(pid);
    }
    int r = reap(pid, "ring");
    close(to_child);
    close(to_parent);
    munmap(s, sizeof(*s));
    if (r == 0 && !failed)
        report("ring_eventfd_cross", a, b, samples, iterations);
    return failed ? -1 : r;
release:
    if (to_child >= 0)
        close(to_child);
    if (to_parent >= 0)
        close(to_parent);
    if (s != MAP_FAILED)
        munmap(s, sizeof(*s));
    return -1;
}
