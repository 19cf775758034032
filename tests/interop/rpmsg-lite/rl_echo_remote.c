/*
 * An RPMsg-Lite REMOTE echo application (this project's own code, built against NXP RPMsg-Lite by
 * tests/interop/rpmsg-lite-real.sh): rpmsg_lite_remote_init on the shared-memory file, waits for the
 * master's link-up kick, creates endpoint --addr (30), announces --name with rpmsg_ns_announce and
 * echoes every message to its sender (copied in the rx callback, sent from the main loop, as NXP's
 * bare-metal examples do). Stops when the master announces the channel's destroy or closes the doorbell.
 * --nocopy K: RPMsg-Lite's zero-copy API instead: the rx callback returns RL_HOLD, the main loop echoes
 * each held message with rpmsg_lite_alloc_tx_buffer + rpmsg_lite_send_nocopy and releases the held
 * buffers (rpmsg_lite_release_rx_buffer) newest first once K are held, or when no kick came for 1 ms, so
 * the master gets its send buffers back out of order on the used ring.
 * --restart-after N: after N echoes, a reset as an MCU's: RPMsg-Lite's state is dropped (endpoint,
 * name-service binding, instance; nothing sent), queued and held messages are forgotten, and
 * rpmsg_lite_remote_init runs again on the same shared memory, keeping the doorbell (as an MU survives
 * the reset); then link-up, endpoint and announcement as at start. Once per run.
 *
 * Usage: rl_echo_remote --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--timeout S]
 *                       [--nocopy K]
 *                       [--restart-after N]
 * Prints "echoed N messages". Exit 0 done, 1 usage, 2 failure.
 */
#define _GNU_SOURCE
#include "rl_glue.h"
#include "rl_hold.h"
#include "rpmsg_lite.h"
#include "rpmsg_ns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QLEN 4096u
static struct { uint32_t src, len; char data[RL_BUFFER_PAYLOAD_SIZE]; } q[QLEN];
static unsigned q_head, q_tail;
static int destroyed;
static const char *name = "rpmsg-lite-echo";
static int nocopy;
static struct rpmsg_lite_instance *rl;
static struct rpmsg_lite_endpoint *ept;
static long echoed;
static int timeout_ms = 30000;
static void *base;
static uint32_t addr = 30;
static rpmsg_ns_handle ns;

static int32_t rx_cb(void *payload, uint32_t len, uint32_t src, void *priv)
{
    (void)priv;
    if (nocopy)
        return hold_push(payload, len, src);
    if (q_tail - q_head >= QLEN)
        glue_fail(2, "echo queue full");
    if (len > RL_BUFFER_PAYLOAD_SIZE)
        glue_fail(2, "message of %u bytes", len);
    q[q_tail % QLEN].src = src;
    q[q_tail % QLEN].len = len;
    memcpy(q[q_tail % QLEN].data, payload, len);
    q_tail++;
    return RL_RELEASE;
}

/* --nocopy: echoes every held message not yet echoed from its own buffer, with a zero-copy send. */
static void echo_held(void)
{
    for (unsigned i = 0; i < hold_count(); i++) { /* a blocking allocation may hold more (interrupts) */
        struct held_buffer *h = hold_at(i);
        if (h->done)
            continue;
        uint32_t size = 0;
        void *tx = rpmsg_lite_alloc_tx_buffer(rl, &size, (uintptr_t)timeout_ms);
        if (!tx || size < h->len)
            glue_fail(2, "rpmsg_lite_alloc_tx_buffer for echo %ld failed (%u bytes of %u)", echoed, size, h->len);
        memcpy(tx, h->data, h->len);
        int32_t r = rpmsg_lite_send_nocopy(rl, ept, h->src, tx, h->len);
        if (r != RL_SUCCESS)
            glue_fail(2, "rpmsg_lite_send_nocopy of echo %ld (%u bytes to 0x%x) failed: %d", echoed, h->len, h->src, r);
        h->done = 1;
        echoed++;
    }
    if (hold_count() >= hold_limit())
        hold_release_all();
}

static void ns_cb(uint32_t ns_addr, const char *ns_name, uint32_t flags, void *user)
{
    (void)user;
    glue_log("name service: '%.32s' at 0x%x %s", ns_name, ns_addr, flags == RL_NS_DESTROY ? "destroyed" : "created");
    if (flags == RL_NS_DESTROY && strncmp(ns_name, name, 32) == 0)
        destroyed = 1;
}

/* RPMsg-Lite's start on the shared memory: remote init, link-up (the master's kick), endpoint, announcement. */
static void start(void)
{
    rl = rpmsg_lite_remote_init(base, 0, RL_NO_FLAGS);
    if (!rl)
        glue_fail(2, "rpmsg_lite_remote_init failed");
    int64_t until = glue_now_ms() + timeout_ms;
    while (!rpmsg_lite_is_link_up(rl)) {
        if (glue_wait(100) < 0)
            glue_fail(2, "the master closed the doorbell before link-up");
        if (glue_now_ms() > until)
            glue_fail(2, "no link-up within %d ms", timeout_ms);
    }
    glue_log("link up");
    hold_init(rl, (unsigned)nocopy);
    ept = rpmsg_lite_create_ept(rl, addr, rx_cb, NULL);
    ns = ept ? rpmsg_ns_bind(rl, ns_cb, NULL) : NULL;
    if (!ns)
        glue_fail(2, "endpoint or name-service bind failed");
    if (rpmsg_ns_announce(rl, ept, name, RL_NS_CREATE) != RL_SUCCESS)
        glue_fail(2, "rpmsg_ns_announce failed");
    glue_log("announced '%s' at 0x%x", name, addr);
}

int main(int argc, char **argv)
{
    const char *shm = NULL, *sock = NULL;
    size_t size = 0x50000;
    long restart_after = -1;
    glue_name = "rl_echo_remote";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--shm")) shm = argv[i + 1];
        else if (!strcmp(argv[i], "--socket")) sock = argv[i + 1];
        else if (!strcmp(argv[i], "--shm-size")) size = strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--addr")) addr = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--timeout")) timeout_ms = atoi(argv[i + 1]) * 1000;
        else if (!strcmp(argv[i], "--nocopy")) nocopy = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--restart-after")) restart_after = strtol(argv[i + 1], NULL, 0);
        else glue_fail(1, "unknown option %s", argv[i]);
    }
    if (!shm || !sock || argc % 2 == 0)
        glue_fail(1, "usage: --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--timeout S] [--nocopy K] [--restart-after N]");

    base = glue_map(shm, size, 1);
    glue_log("RL_BUFFER_COUNT %u, VRING_SIZE 0x%lx, VRING_ALIGN 0x%x", RL_BUFFER_COUNT, (unsigned long)VRING_SIZE, VRING_ALIGN);
    glue_listen(sock, timeout_ms);
    start();

    int64_t last = glue_now_ms();
    int gone = 0;
    while (!destroyed && !gone) {
        if (restart_after >= 0 && echoed >= restart_after) {
            restart_after = -1;
            glue_log("reset after %ld echoes: RPMsg-Lite state dropped, shared memory and doorbell kept", echoed);
            q_head = q_tail;
            hold_forget();
            rpmsg_ns_unbind(rl, ns);
            rpmsg_lite_destroy_ept(rl, ept);
            rpmsg_lite_deinit(rl);
            start();
            last = glue_now_ms();
        }

        while (q_head != q_tail) {
            unsigned i = q_head % QLEN;
            int32_t r = rpmsg_lite_send(rl, ept, q[i].src, q[i].data, q[i].len, (uintptr_t)timeout_ms);
            if (r != RL_SUCCESS)
                glue_fail(2, "rpmsg_lite_send of echo %ld (%u bytes to 0x%x) failed: %d", echoed, q[i].len, q[i].src, r);
            q_head++;
            echoed++;
            last = glue_now_ms();
        }
        long before = echoed;
        if (nocopy)
            echo_held();
        if (echoed != before)
            last = glue_now_ms();
        int r = glue_wait(nocopy && hold_count() > 0 ? 1 : 100);
        if (r < 0)
            gone = 1;
        else if (r > 0)
            last = glue_now_ms();
        else if (nocopy && hold_count() > 0)
            hold_release_all(); /* nothing more came: give back what is held (newest first) */
        else if (glue_now_ms() - last > timeout_ms)
            glue_fail(2, "no kick within %d ms after %ld echoes", timeout_ms, echoed);
    }
    if (nocopy)
        hold_release_all();
    glue_log("echoed %ld messages; %s (kicks sent %ld, received %ld)", echoed,
             destroyed ? "the master destroyed the channel" : "the master closed the doorbell", glue_kicks_sent, glue_kicks_received);
    if (nocopy)
        glue_log("zero-copy: released %ld held buffers, %ld of them out of order (release at %u held, most held %u)",
                 hold_released, hold_out_of_order, hold_limit(), hold_most);
    rpmsg_lite_destroy_ept(rl, ept);
    rpmsg_lite_deinit(rl);
    glue_close();
    glue_unmap();
    return 0;
}
