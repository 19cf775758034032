/*
 * A test peer that behaves, on the wire, like NXP's RPMsg-Lite (lib/rpmsg_lite/rpmsg_lite.c and
 * lib/virtio/virtqueue.c with their default configuration), written here from those facts
 * (docs/interop.md), not from RPMsg-Lite's code:
 *
 *  - No resource table, no status byte, no feature words. Vring 0 at the start of shared memory,
 *    vring 1 one VRING_SIZE (0x8000) later, align VRING_ALIGN (0x1000), RL_BUFFER_COUNT entries each;
 *    2 x RL_BUFFER_COUNT buffers of 512 bytes (496 payload + 16) after both vrings, rx half first.
 *  - The master zeroes both vrings, posts its rx buffers on vring 0's avail ring, and hands its tx
 *    buffers out by pre-filling vring 1's *used* ring (used.idx = RL_BUFFER_COUNT); every descriptor
 *    it writes is marked VRING_DESC_F_WRITE, tx buffers included. It sets NO_INTERRUPT on both avail
 *    rings and never clears it; then it kicks once: "the master is ready".
 *  - The remote starts with the link down and takes the master's first kick as link up. It decides its
 *    kicks from its own rings' used.flags NO_NOTIFY (which nobody sets), so it kicks for every message
 *    whatever the master's NO_INTERRUPT says. Returning a received buffer kicks nobody, on either side
 *    (RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION is 0). Used lengths are the descriptor's length.
 *  - The name service is an application choice; here the remote announces its endpoint (address 30,
 *    as NXP's examples) and the master binds by name; the master ends by announcing the channel's
 *    destroy.
 *  - Doorbell (test transport, RPMsg-Lite has no Linux one): a Unix stream socket, one byte per kick
 *    with a blocking send(); the remote listens.
 *
 * Usage: --role remote|master --shm PATH --socket PATH [--name NAME] [--count N] [--num N] [--timeout S]
 * Exit codes: 0 done, 1 usage, 2 failure (stderr says why), 3 the other side went away early.
 */
#define _POSIX_C_SOURCE 200809L
#include "peer_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VRING_SIZE 0x8000u
#define VRING_ALIGN 0x1000u
#define POOL (2u * VRING_SIZE)
#define BUF_SIZE 512u
#define REMOTE_EPT 30u
#define MASTER_EPT 0x400u

static struct {
    const char *role, *shm_path, *sock_path, *name;
    long count;
    unsigned num;
    int timeout_ms;
} opt = { NULL, NULL, NULL, "rpmsg-lite-echo", 10000, 256, 20000 };

static peer_shm shm;
static peer_vring vq0, vq1;
static int sock = -1, gone, shutdown_req;
static uint32_t dest = RPMSG_ADDR_ANY;
static long echoed, rnum, expected;
static uint16_t next_avail0, next_avail1, next_used0, next_used1;

static void kick(void) { gone |= sock_kick(sock) != 0; }

static void place_vrings(void)
{
    vring_place(&vq0, &shm, 0, (uint16_t)opt.num, VRING_ALIGN);
    vring_place(&vq1, &shm, VRING_SIZE, (uint16_t)opt.num, VRING_ALIGN);
}

/* Waits for a kick (bounded by the timeout without progress) and runs process(); until done(). */
static void run_until(int (*done)(void), void (*process)(void), const char *what)
{
    int64_t last = peer_now_ms();
    process();
    while (!done() && !gone) {
        int r = sock_wait(sock, 100);
        if (r < 0) {
            gone = 1;
            break;
        }
        if (r > 0)
            last = peer_now_ms();
        else if (peer_now_ms() - last > opt.timeout_ms)
            peer_fail(2, "no kick within %d ms while waiting for %s", opt.timeout_ms, what);
        process();
    }
}

/* ---- remote -------------------------------------------------------------------------------------- */

static void remote_send(uint32_t dst, const uint8_t *payload, uint16_t len)
{
    uint16_t head;
    uint8_t *buf;
    uint32_t blen;
    int64_t until = peer_now_ms() + opt.timeout_ms;
    while (!vr_take_avail(&vq0, &shm, &next_avail0, &head, &buf, &blen)) {
        if (peer_now_ms() > until)
            peer_fail(2, "no master rx buffer on vring 0 within %d ms", opt.timeout_ms);
        peer_sleep_ms(1);
    }
    if (blen < RPMSG_HDR_SIZE + len)
        peer_fail(2, "master rx buffer %u holds %u bytes, %u needed", head, blen, RPMSG_HDR_SIZE + len);
    rpmsg_write_hdr(buf, REMOTE_EPT, dst, len);
    memcpy(buf + RPMSG_HDR_SIZE, payload, len);
    vr_push_used(&vq0, head, blen);
    if (!(vr_used_flags(&vq0) & VRING_USED_F_NO_NOTIFY)) /* its own ring's flag: in practice, always */
        kick();
}

static void remote_process(void)
{
    uint16_t head;
    uint8_t *buf;
    uint32_t blen, src, dst;
    uint16_t len;
    while (!shutdown_req && vr_take_avail(&vq1, &shm, &next_avail1, &head, &buf, &blen)) {
        if (blen < RPMSG_HDR_SIZE)
            peer_fail(2, "master tx buffer of %u bytes", blen);
        rpmsg_read_hdr(buf, &src, &dst, &len);
        if (len > blen - RPMSG_HDR_SIZE)
            peer_fail(2, "header len %u exceeds the %u-byte buffer", len, blen);
        char name[33];
        uint32_t addr, flags;
        if (dst == REMOTE_EPT) {
            remote_send(src, buf + RPMSG_HDR_SIZE, len);
            echoed++;
        } else if (dst == RPMSG_NS_ADDR && rpmsg_read_ns(buf + RPMSG_HDR_SIZE, len, name, &addr, &flags)
                   && flags == RPMSG_NS_DESTROY && strcmp(name, opt.name) == 0) {
            shutdown_req = 1;
        }
        vr_push_used(&vq1, head, blen); /* no kick: RPMsg-Lite does not signal returned buffers */
    }
}

static int run_remote(void)
{
    shm_map(opt.shm_path, POOL + 2u * opt.num * BUF_SIZE, 1, &shm);
    sock = sock_accept(opt.sock_path, opt.timeout_ms);
    /* Link down until the master's first kick. */
    int r;
    int64_t until = peer_now_ms() + opt.timeout_ms;
    while ((r = sock_wait(sock, 100)) == 0)
        if (peer_now_ms() > until)
            peer_fail(2, "no kick from the master within %d ms", opt.timeout_ms);
    if (r < 0)
        peer_fail(3, "the master closed the doorbell before the link came up");
    place_vrings();
    peer_log("link up");
    uint8_t ns[RPMSG_NS_SIZE];
    rpmsg_write_ns(ns, opt.name, REMOTE_EPT, RPMSG_NS_CREATE);
    remote_send(RPMSG_NS_ADDR, ns, RPMSG_NS_SIZE);
    int64_t last = peer_now_ms();
    remote_process();
    while (!shutdown_req) {
        r = sock_wait(sock, 100);
        if (r < 0)
            break; /* the master closed the doorbell */
        if (r > 0)
            last = peer_now_ms();
        else if (peer_now_ms() - last > opt.timeout_ms)
            peer_fail(2, "no kick within %d ms after %ld echoes", opt.timeout_ms, echoed);
        remote_process();
    }
    peer_log("echoed %ld messages; %s", echoed, shutdown_req ? "the master destroyed the channel" : "the master closed the doorbell");
    return 0;
}

/* ---- master -------------------------------------------------------------------------------------- */

static void fill(uint8_t *p, long i, uint16_t len)
{
    for (uint16_t j = 0; j < len; j++)
        p[j] = (uint8_t)(i * 7 + j);
}

static void master_process(void)
{
    uint16_t id;
    uint32_t len, src, dst;
    uint16_t plen;
    while (vr_take_used(&vq0, &next_used0, &id, &len)) {
        uint8_t *buf = shm_at(&shm, POOL + (uint64_t)id * BUF_SIZE, BUF_SIZE, "rx buffer");
        if (len < RPMSG_HDR_SIZE || len > BUF_SIZE)
            peer_fail(2, "used length %u of rx buffer %u", len, id);
        rpmsg_read_hdr(buf, &src, &dst, &plen);
        if (plen > len - RPMSG_HDR_SIZE)
            peer_fail(2, "header len %u exceeds used length %u", plen, len);
        const uint8_t *p = buf + RPMSG_HDR_SIZE;
        char name[33];
        uint32_t addr, flags;
        if (dst == RPMSG_NS_ADDR && rpmsg_read_ns(p, plen, name, &addr, &flags) && strcmp(name, opt.name) == 0) {
            if (flags == RPMSG_NS_CREATE)
                dest = addr;
        } else if (dst == MASTER_EPT) {
            uint8_t want[496];
            uint16_t wlen = (uint16_t)(1 + rnum % 496);
            fill(want, rnum, wlen);
            if (src != dest || plen != wlen || memcmp(p, want, wlen) != 0)
                peer_fail(2, "echo %ld: %u bytes from 0x%x, expected %u bytes from 0x%x (or the content differs)", rnum, plen, src, wlen, dest);
            rnum++;
        }
        vr_post(&vq0, id, POOL + (uint64_t)id * BUF_SIZE, BUF_SIZE, 1); /* returned without a kick */
    }
}

static void master_send(uint32_t dst, const uint8_t *payload, uint16_t len)
{
    uint16_t id;
    uint32_t blen;
    int64_t until = peer_now_ms() + opt.timeout_ms;
    /* Tx buffers come from vring 1's used ring (pre-filled at start, then returned by the remote). */
    while (!vr_take_used(&vq1, &next_used1, &id, &blen)) {
        if (peer_now_ms() > until)
            peer_fail(2, "no tx buffer on vring 1's used ring within %d ms", opt.timeout_ms);
        peer_sleep_ms(1);
    }
    uint64_t addr = rd64(vq1.desc + 16u * id);
    uint8_t *buf = shm_at(&shm, addr, BUF_SIZE, "tx buffer");
    rpmsg_write_hdr(buf, MASTER_EPT, dst, len);
    memcpy(buf + RPMSG_HDR_SIZE, payload, len);
    vr_post(&vq1, id, addr, BUF_SIZE, 1); /* RPMsg-Lite marks this readable buffer WRITE too */
    if (!(vr_used_flags(&vq1) & VRING_USED_F_NO_NOTIFY))
        kick();
}

static int bound(void) { return dest != RPMSG_ADDR_ANY; }
static int echo_back(void) { return rnum >= expected; }

static int run_master(void)
{
    sock = sock_connect(opt.sock_path, opt.timeout_ms);
    shm_map(opt.shm_path, POOL + 2u * opt.num * BUF_SIZE, 0, &shm);
    place_vrings();
    memset(vq0.desc, 0, (size_t)(vq0.used - vq0.desc) + 6 + 8u * opt.num);
    memset(vq1.desc, 0, (size_t)(vq1.used - vq1.desc) + 6 + 8u * opt.num);
    for (uint16_t i = 0; i < opt.num; i++) {
        uint64_t rx = POOL + (uint64_t)i * BUF_SIZE, tx = POOL + (uint64_t)(opt.num + i) * BUF_SIZE;
        memset(shm_at(&shm, rx, BUF_SIZE, "rx buffer"), 0, BUF_SIZE);
        memset(shm_at(&shm, tx, BUF_SIZE, "tx buffer"), 0, BUF_SIZE);
        vr_post(&vq0, i, rx, BUF_SIZE, 1);
        uint8_t *d = vq1.desc + 16u * i;
        wr64(d, tx);
        wr32(d + 8, BUF_SIZE);
        d[12] = VRING_DESC_F_WRITE;
        vr_push_used(&vq1, i, BUF_SIZE);
    }
    vr_set_avail_flags(&vq0, VRING_AVAIL_F_NO_INTERRUPT);
    vr_set_avail_flags(&vq1, VRING_AVAIL_F_NO_INTERRUPT);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    kick(); /* "the master is ready" */
    peer_log("link up");
    run_until(bound, master_process, "the remote's announcement");
    uint8_t msg[496];
    for (long i = 0; i < opt.count && !gone; i++) {
        uint16_t len = (uint16_t)(1 + i % 496);
        fill(msg, i, len);
        expected = i + 1;
        master_send(dest, msg, len);
        run_until(echo_back, master_process, "an echo");
    }
    if (gone)
        peer_fail(3, "the remote closed the doorbell after %ld echoes", rnum);
    rpmsg_write_ns(msg, opt.name, MASTER_EPT, RPMSG_NS_DESTROY);
    master_send(RPMSG_NS_ADDR, msg, RPMSG_NS_SIZE);
    peer_log("verified %ld/%ld echoes", rnum, opt.count);
    return 0;
}

int main(int argc, char **argv)
{
    peer_set_name("rpmsg_lite_like_peer");
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--role") == 0) opt.role = v;
        else if (strcmp(a, "--shm") == 0) opt.shm_path = v;
        else if (strcmp(a, "--socket") == 0) opt.sock_path = v;
        else if (strcmp(a, "--name") == 0) opt.name = v;
        else if (strcmp(a, "--count") == 0) opt.count = strtol(v, NULL, 0);
        else if (strcmp(a, "--num") == 0) opt.num = (unsigned)strtoul(v, NULL, 0);
        else if (strcmp(a, "--timeout") == 0) opt.timeout_ms = (int)strtol(v, NULL, 0) * 1000;
        else peer_fail(1, "unknown option %s", a);
    }
    if (argc % 2 == 0 || !opt.role || !opt.shm_path || !opt.sock_path || strlen(opt.name) > 31 || opt.count < 0
        || opt.num < 2 || opt.num > 1024 || (opt.num & (opt.num - 1)) != 0 || opt.timeout_ms <= 0)
        peer_fail(1, "usage: --role remote|master --shm PATH --socket PATH [--name NAME] [--count N] [--num N] [--timeout S]");
    int rc = 1;
    if (strcmp(opt.role, "remote") == 0)
        rc = run_remote();
    else if (strcmp(opt.role, "master") == 0)
        rc = run_master();
    else
        peer_fail(1, "--role must be remote or master, not %s", opt.role);
    close(sock);
    shm_unmap(&shm);
    return rc;
}
