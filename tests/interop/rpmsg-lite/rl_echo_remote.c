/*
 * An RPMsg-Lite REMOTE echo application (this project's own code, built against NXP RPMsg-Lite by
 * tests/interop/rpmsg-lite-real.sh): rpmsg_lite_remote_init on the shared-memory file, waits for the
 * master's link-up kick, creates endpoint --addr (30), announces --name with rpmsg_ns_announce and
 * echoes every message to its sender (copied in the rx callback, sent from the main loop, as NXP's
 * bare-metal examples do). Stops when the master announces the channel's destroy or closes the doorbell.
 *
 * Usage: rl_echo_remote --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--timeout S]
 * Prints "echoed N messages". Exit 0 done, 1 usage, 2 failure.
 */
#define _GNU_SOURCE
#include "rl_glue.h"
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

static int32_t rx_cb(void *payload, uint32_t len, uint32_t src, void *priv)
{
    (void)priv;
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

static void ns_cb(uint32_t addr, const char *ns_name, uint32_t flags, void *user)
{
    (void)user;
    glue_log("name service: '%.32s' at 0x%x %s", ns_name, addr, flags == RL_NS_DESTROY ? "destroyed" : "created");
    if (flags == RL_NS_DESTROY && strncmp(ns_name, name, 32) == 0)
        destroyed = 1;
}

int main(int argc, char **argv)
{
    const char *shm = NULL, *sock = NULL;
    size_t size = 0x50000;
    uint32_t addr = 30;
    int timeout_ms = 30000;
    glue_name = "rl_echo_remote";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--shm")) shm = argv[i + 1];
        else if (!strcmp(argv[i], "--socket")) sock = argv[i + 1];
        else if (!strcmp(argv[i], "--shm-size")) size = strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--addr")) addr = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--timeout")) timeout_ms = atoi(argv[i + 1]) * 1000;
        else glue_fail(1, "unknown option %s", argv[i]);
    }
    if (!shm || !sock || argc % 2 == 0)
        glue_fail(1, "usage: --shm PATH --socket PATH [--shm-size N] [--name NAME] [--addr N] [--timeout S]");

    void *base = glue_map(shm, size, 1);
    glue_log("RL_BUFFER_COUNT %u, VRING_SIZE 0x%lx, VRING_ALIGN 0x%x", RL_BUFFER_COUNT, (unsigned long)VRING_SIZE, VRING_ALIGN);
    glue_listen(sock, timeout_ms);
    struct rpmsg_lite_instance *rl = rpmsg_lite_remote_init(base, 0, RL_NO_FLAGS);
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
    struct rpmsg_lite_endpoint *ept = rpmsg_lite_create_ept(rl, addr, rx_cb, NULL);
    if (!ept || !rpmsg_ns_bind(rl, ns_cb, NULL))
        glue_fail(2, "endpoint or name-service bind failed");
    if (rpmsg_ns_announce(rl, ept, name, RL_NS_CREATE) != RL_SUCCESS)
        glue_fail(2, "rpmsg_ns_announce failed");
    glue_log("announced '%s' at 0x%x", name, addr);

    long echoed = 0;
    int64_t last = glue_now_ms();
    int gone = 0;
    while (!destroyed && !gone) {
        while (q_head != q_tail) {
            unsigned i = q_head % QLEN;
            int32_t r = rpmsg_lite_send(rl, ept, q[i].src, q[i].data, q[i].len, (uintptr_t)timeout_ms);
            if (r != RL_SUCCESS)
                glue_fail(2, "rpmsg_lite_send of echo %ld (%u bytes to 0x%x) failed: %d", echoed, q[i].len, q[i].src, r);
            q_head++;
            echoed++;
            last = glue_now_ms();
        }
        int r = glue_wait(100);
        if (r < 0)
            gone = 1;
        else if (r > 0)
            last = glue_now_ms();
        else if (glue_now_ms() - last > timeout_ms)
            glue_fail(2, "no kick within %d ms after %ld echoes", timeout_ms, echoed);
    }
    glue_log("echoed %ld messages; %s (kicks sent %ld, received %ld)", echoed,
             destroyed ? "the master destroyed the channel" : "the master closed the doorbell", glue_kicks_sent, glue_kicks_received);
    rpmsg_lite_destroy_ept(rl, ept);
    rpmsg_lite_deinit(rl);
    glue_close();
    glue_unmap();
    return 0;
}
