/*
 * An RPMsg-Lite MASTER ping application (this project's own code, built against NXP RPMsg-Lite by
 * tests/interop/rpmsg-lite-real.sh): connects the doorbell, rpmsg_lite_master_init on the
 * shared-memory file (which zeroes the vrings, posts the rx buffers, pre-fills vring 1's used ring and
 * kicks), creates endpoint --addr (0x400), binds the remote's announcement of --name with rpmsg_ns_bind
 * (or uses --dest), sends --count messages of 1..496 bytes one at a time and checks every echo, then
 * announces the channel's destroy.
 * --nocopy H: RPMsg-Lite's zero-copy API instead: every message goes out with rpmsg_lite_alloc_tx_buffer
 * (non-blocking, kicks delivered between tries) + rpmsg_lite_send_nocopy; the rx callback checks the echo
 * and returns RL_HOLD; the held buffers are released (rpmsg_lite_release_rx_buffer) newest first once H
 * are held, or when the master would wait, so the remote gets its send buffers back out of order on the
 * avail ring.
 *
 * Usage: rl_ping_master --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--dest N]
 *                       [--count N] [--burst K] [--timeout S] [--nocopy H]
 * Prints "verified N/N echoes". Exit 0 done, 1 usage, 2 failure, 3 the remote went away.
 */
#define _GNU_SOURCE
#include "rl_glue.h"
#include "rl_hold.h"
#include "rpmsg_lite.h"
#include "rpmsg_ns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(char *p, long i, uint32_t len)
{
    for (uint32_t j = 0; j < len; j++)
        p[j] = (char)(i * 7 + j);
}

static const char *name = "rpmsg-lite-echo";
static uint32_t dest = RL_ADDR_ANY;
static long received, bad;
static long burst = 1;
static char msg[RL_BUFFER_PAYLOAD_SIZE];
static uint32_t dest_seen;
static int nocopy;


/* Echoes come back in order: each is checked against what message number `received` was. */
static int32_t rx_cb(void *payload, uint32_t len, uint32_t src, void *priv)
{
    (void)priv;
    char want_buf[RL_BUFFER_PAYLOAD_SIZE];
    uint32_t wlen = (uint32_t)(1 + received % RL_BUFFER_PAYLOAD_SIZE);
    fill(want_buf, received, wlen);
    if (src != dest_seen || len != wlen || memcmp(payload, want_buf, wlen) != 0) {
        if (bad++ < 5)
            fprintf(stderr, "rl_ping_master: echo %ld: %u bytes from 0x%x, expected %u bytes from 0x%x (or the content differs)\n",
                    received, len, src, wlen, dest_seen);
    }
    received++;
    return nocopy ? hold_push(payload, len, src) : RL_RELEASE;
}

static void ns_cb(uint32_t addr, const char *ns_name, uint32_t flags, void *user)
{
    (void)user;
    glue_log("name service: '%.32s' at 0x%x %s", ns_name, addr, flags == RL_NS_DESTROY ? "destroyed" : "created");
    if (strncmp(ns_name, name, 32) == 0)
        dest = flags == RL_NS_CREATE ? addr : RL_ADDR_ANY;
}

/* Waits until cond() holds, delivering kicks; fails after timeout_ms without a kick. */
static void wait_until(int (*cond)(void), int timeout_ms, const char *what)
{
    int64_t last = glue_now_ms();
    while (!cond()) {
        if (nocopy && hold_count() >= hold_limit())
            hold_release_all();
        int r = glue_wait(nocopy && hold_count() > 0 ? 1 : 100);
        if (r == 0 && nocopy && hold_count() > 0) {
            hold_release_all(); /* nothing came for 1 ms: give back what is held (newest first) */
            continue;
        }
        if (r < 0)
            glue_fail(3, "the remote closed the doorbell while waiting for %s (%ld echoes)", what, received);
        if (r > 0)
            last = glue_now_ms();
        else if (glue_now_ms() - last > timeout_ms)
            glue_fail(2, "no kick within %d ms while waiting for %s (%ld echoes)", timeout_ms, what, received);
    }
}

static long want;
static int64_t max_send_ms, max_echo_ms, stalls; /* stalls: waits of 100 ms or more */
static int bound(void) { return dest != RL_ADDR_ANY; }
static int echoed(void) { return received >= want; }

/* --nocopy: one message from a tx buffer of RPMsg-Lite's own, filled in place. Kicks are delivered (and held
 * buffers released) between non-blocking allocations, as a bare-metal caller polling for a buffer would. */
static int32_t send_nocopy(struct rpmsg_lite_instance *rl, struct rpmsg_lite_endpoint *ept, long i, uint32_t len,
                           int timeout_ms)
{
    uint32_t size = 0;
    void *tx;
    int64_t until = glue_now_ms() + timeout_ms;
    while ((tx = rpmsg_lite_alloc_tx_buffer(rl, &size, 0)) == NULL) {
        if (hold_count() > 0)
            hold_release_all();
        if (glue_wait(1) < 0)
            glue_fail(3, "the remote closed the doorbell while message %ld waited for a tx buffer", i);
        if (glue_now_ms() > until)
            return RL_ERR_NO_MEM;
    }
    if (size < len)
        glue_fail(2, "rpmsg_lite_alloc_tx_buffer gave %u bytes for a %u-byte message", size, len);
    fill(tx, i, len);
    return rpmsg_lite_send_nocopy(rl, ept, dest, tx, len);
}

int main(int argc, char **argv)
{
    const char *shm = NULL, *sock = NULL;
    size_t size = 0x50000;
    uint32_t addr = 0x400;
    long count = 1000;
    int timeout_ms = 30000;
    glue_name = "rl_ping_master";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--shm")) shm = argv[i + 1];
        else if (!strcmp(argv[i], "--socket")) sock = argv[i + 1];
        else if (!strcmp(argv[i], "--shm-size")) size = strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--addr")) addr = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--dest")) dest = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--burst")) burst = strtol(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--count")) count = strtol(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--timeout")) timeout_ms = atoi(argv[i + 1]) * 1000;
        else if (!strcmp(argv[i], "--nocopy")) nocopy = atoi(argv[i + 1]);
        else glue_fail(1, "unknown option %s", argv[i]);
    }
    if (!shm || !sock || argc % 2 == 0 || count < 0)
        glue_fail(1, "usage: --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--dest N] [--count N] [--burst K] [--timeout S] [--nocopy H]");

    glue_log("RL_BUFFER_COUNT %u, VRING_SIZE 0x%lx, VRING_ALIGN 0x%x", RL_BUFFER_COUNT, (unsigned long)VRING_SIZE, VRING_ALIGN);
    glue_connect(sock, timeout_ms);
    void *base = glue_map(shm, size, 0);
    struct rpmsg_lite_instance *rl = rpmsg_lite_master_init(base, size, 0, RL_NO_FLAGS);
    if (!rl)
        glue_fail(2, "rpmsg_lite_master_init failed");
    hold_init(rl, (unsigned)nocopy);
    struct rpmsg_lite_endpoint *ept = rpmsg_lite_create_ept(rl, addr, rx_cb, NULL);
    if (!ept || !rpmsg_ns_bind(rl, ns_cb, NULL))
        glue_fail(2, "endpoint or name-service bind failed");
    glue_log("master ready, endpoint 0x%x", addr);
    wait_until(bound, timeout_ms, "the remote's announcement");
    glue_log("bound '%s' at 0x%x", name, dest);

    /* --burst K: K messages back to back, then wait for their K echoes (1: one round trip at a time). */
    dest_seen = dest;
    for (long i = 0; i < count;) {
        long k = 0;
        for (; k < burst && i < count; k++, i++) {
            uint32_t len = (uint32_t)(1 + i % RL_BUFFER_PAYLOAD_SIZE);
            int64_t t0 = glue_now_ms();
            int32_t r;
            if (nocopy) {
                r = send_nocopy(rl, ept, i, len, timeout_ms);
            } else {
                fill(msg, i, len);
                r = rpmsg_lite_send(rl, ept, dest, msg, len, (uintptr_t)timeout_ms);
            }
            int64_t dt = glue_now_ms() - t0;
            max_send_ms = dt > max_send_ms ? dt : max_send_ms;
            stalls += dt >= 100;
            if (r != RL_SUCCESS)
                glue_fail(2, "rpmsg_lite_send of message %ld (%u bytes) failed: %d (%ld echoes so far)", i, len, r, received);
        }
        want = i;
        int64_t t0 = glue_now_ms();
        wait_until(echoed, timeout_ms, "an echo");
        int64_t dt = glue_now_ms() - t0;
        max_echo_ms = dt > max_echo_ms ? dt : max_echo_ms;
        stalls += dt >= 100;
    }
    hold_release_all();
    if (rpmsg_ns_announce(rl, ept, name, RL_NS_DESTROY) != RL_SUCCESS)
        glue_fail(2, "rpmsg_ns_announce(destroy) failed");
    glue_log("verified %ld/%ld echoes (kicks sent %ld, received %ld; longest send %lld ms, longest wait for echoes %lld ms, %lld waits of 100 ms or more)",
             received - bad, count, glue_kicks_sent, glue_kicks_received, (long long)max_send_ms, (long long)max_echo_ms, (long long)stalls);
    if (nocopy)
        glue_log("zero-copy: released %ld held buffers, %ld of them out of order (release at %u held, most held %u)",
                 hold_released, hold_out_of_order, hold_limit(), hold_most);
    rpmsg_lite_destroy_ept(rl, ept);
    rpmsg_lite_deinit(rl);
    glue_close();
    glue_unmap();
    return bad == 0 ? 0 : 2;
}
