/*
 * A test peer that behaves, on the wire, like OpenAMP's Linux-userspace demo apps (legacy_apps
 * rpmsg-echo as the remote, rpmsg-echo-ping as the host) on the "linux" machine. Written here from
 * the observable facts (docs/interop.md), not from OpenAMP's code:
 *
 *  - /dev/shm file of 0x80000 bytes, address == offset; the remote writes an 88-byte resource table
 *    at 0 (one rpmsg vdev, dfeatures = NS, vrings at 0x4000 / 0x8000, align 0x1000, num 256,
 *    notifyid 1 / 2); buffers of 512 bytes in the pool at 0x10000 (0x40000 bytes).
 *  - Doorbell: a Unix stream socket, the remote listens, the host connects; each kick is one byte
 *    sent with a blocking send(): if the other side never reads, this peer blocks for good.
 *  - The host acks every feature offered (gfeatures = dfeatures) and writes DRIVER_OK, but never
 *    implements EVENT_IDX: no used_event / avail_event, kicks decided by NO_NOTIFY / NO_INTERRUPT
 *    only. Tx-complete kicks are off (host: vring 1 NO_INTERRUPT; remote: vring 0 NO_NOTIFY).
 *  - The remote waits for DRIVER_OK (polling every ms), creates its endpoint at 0x400 under the name
 *    and announces it (NS create to 53); it echoes every message back to the sender, kicking after
 *    the echo and again after returning the received buffer (used length = the descriptor's length).
 *  - The host creates its endpoint at 0x400 under the same name and announces it too, binds when the
 *    remote's announcement arrives, then sends payloads {u64 num, u64 size, size x 0xA5} with size
 *    1..480 (17..496 bytes), one round trip at a time, checking each echo; at the end it destroys its
 *    endpoint, which sends NS destroy: the echo remote's signal to shut down.
 *
 * Usage: --role remote|host --shm PATH --socket PATH [--name NAME] [--count N] [--timeout SECONDS]
 * [--always-kick: ignore the other side's suppression flags]; faults for tests of the remote:
 * [--destroy-after N: NS destroy instead of echo N] [--malformed-at N: echo N with a header len
 * past its buffer]. Exit codes: 0 done, 1 usage, 2 failure (stderr says why), 3 the other side left.
 */
#define _POSIX_C_SOURCE 200809L
#include "peer_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHM_SIZE 0x80000u
#define VRING0 0x4000u
#define VRING1 0x8000u
#define VRING_ALIGN 0x1000u
#define VRING_NUM 256u
#define POOL 0x10000u
#define BUF_SIZE 512u
#define EPT_ADDR 0x400u
#define SHUTDOWN_MSG 0xEF56A55Au
#define STATUS_DRIVER_OK 4u
#define VDEV 20u /* the vdev entry in the 88-byte table */

static struct {
    const char *role, *shm_path, *sock_path, *name;
    long count, destroy_after, malformed_at;
    int timeout_ms, always_kick;
} opt = { NULL, NULL, NULL, "rpmsg-openamp-demo-channel", 10000, -1, -1, 20000, 0 };

static peer_shm shm;
static peer_vring vq0, vq1;
static int sock = -1, ns;
static uint32_t dest = RPMSG_ADDR_ANY;
static int shutdown_req, host_gone;
static long echoed, rnum;
static uint16_t next_avail0, next_avail1, next_used0, next_used1;
static uint16_t tx_free[VRING_NUM];
static uint32_t tx_len[VRING_NUM];
static int tx_free_count;

static void kick(void) { host_gone |= sock_kick(sock) != 0; }

/* ---- remote (virtio device) ------------------------------------------------------------------- */

static void write_resource_table(void)
{
    uint8_t *t = shm_at(&shm, 0, 88, "resource table");
    memset(t, 0, 88);
    wr32(t, 1);            /* ver */
    wr32(t + 4, 1);        /* num */
    wr32(t + 16, VDEV);    /* offset[0] */
    wr32(t + VDEV, 3);     /* RSC_VDEV */
    wr32(t + VDEV + 4, 7); /* virtio id: rpmsg */
    wr32(t + VDEV + 12, VIRTIO_RPMSG_F_NS);
    t[VDEV + 25] = 2;      /* num_of_vrings */
    const uint32_t das[2] = { VRING0, VRING1 };
    for (int i = 0; i < 2; i++) {
        uint8_t *v = t + 48 + 20 * i;
        wr32(v, das[i]);
        wr32(v + 4, VRING_ALIGN);
        wr32(v + 8, VRING_NUM);
        wr32(v + 12, (uint32_t)i + 1);
    }
}

static void remote_send(uint32_t dst, const uint8_t *payload, uint16_t len)
{
    uint16_t head;
    uint8_t *buf;
    uint32_t blen;
    int64_t until = peer_now_ms() + 15000;
    /* No host rx buffer: sleep a millisecond and look again, for up to 15 s. */
    while (!vr_take_avail(&vq0, &shm, &next_avail0, &head, &buf, &blen)) {
        if (peer_now_ms() > until)
            peer_fail(2, "no host rx buffer on vring 0 within 15 s (avail.idx %u)", vr_avail_idx(&vq0));
        peer_sleep_ms(1);
    }
    if (blen < RPMSG_HDR_SIZE + len)
        peer_fail(2, "host rx buffer %u holds %u bytes, %u needed", head, blen, RPMSG_HDR_SIZE + len);
    /* --malformed-at: one echo whose header claims more bytes than the buffer holds. */
    int bad = dst != RPMSG_NS_ADDR && echoed == opt.malformed_at;
    rpmsg_write_hdr(buf, EPT_ADDR, dst, bad ? (uint16_t)(blen - RPMSG_HDR_SIZE + 1) : len);
    memcpy(buf + RPMSG_HDR_SIZE, payload, len);
    vr_push_used(&vq0, head, blen);
    if (opt.always_kick || !(vr_avail_flags(&vq0) & VRING_AVAIL_F_NO_INTERRUPT))
        kick();
}

static void remote_announce(uint32_t flags)
{
    uint8_t msg[RPMSG_NS_SIZE];
    rpmsg_write_ns(msg, opt.name, EPT_ADDR, flags);
    remote_send(RPMSG_NS_ADDR, msg, RPMSG_NS_SIZE);
}

static void remote_handle(const uint8_t *buf, uint32_t blen)
{
    uint32_t src, dst;
    uint16_t len;
    if (blen < RPMSG_HDR_SIZE)
        peer_fail(2, "host tx buffer of %u bytes has no room for the header", blen);
    rpmsg_read_hdr(buf, &src, &dst, &len);
    if (len > blen - RPMSG_HDR_SIZE)
        peer_fail(2, "header len %u exceeds the %u-byte buffer", len, blen);
    const uint8_t *payload = buf + RPMSG_HDR_SIZE;
    if (dst == RPMSG_NS_ADDR) {
        char name[33];
        uint32_t addr, flags;
        if (rpmsg_read_ns(payload, len, name, &addr, &flags) && strcmp(name, opt.name) == 0) {
            if (flags == RPMSG_NS_CREATE && dest == RPMSG_ADDR_ANY)
                dest = addr;
            else if (flags == RPMSG_NS_DESTROY)
                shutdown_req = 1; /* the host destroyed the channel: the echo app stops */
        }
        return;
    }
    if (dst != EPT_ADDR)
        return; /* no endpoint there: dropped */
    if (dest == RPMSG_ADDR_ANY)
        dest = src;
    if (len >= 4 && rd32(payload) == SHUTDOWN_MSG) {
        shutdown_req = 1;
        return;
    }
    if (echoed == opt.destroy_after && ns) {
        remote_announce(RPMSG_NS_DESTROY); /* --destroy-after: the service goes away instead of echoing */
        opt.destroy_after = -1;
        return;
    }
    remote_send(dest, payload, len);
    echoed++;
}

static void remote_process(void)
{
    uint16_t head;
    uint8_t *buf;
    uint32_t blen;
    while (!shutdown_req && !host_gone && vr_take_avail(&vq1, &shm, &next_avail1, &head, &buf, &blen)) {
        remote_handle(buf, blen);
        vr_push_used(&vq1, head, blen);
        if (opt.always_kick || !(vr_avail_flags(&vq1) & VRING_AVAIL_F_NO_INTERRUPT))
            kick();
    }
}

static int run_remote(void)
{
    shm_map(opt.shm_path, SHM_SIZE, 1, &shm);
    write_resource_table();
    sock = sock_accept(opt.sock_path, opt.timeout_ms);
    volatile uint8_t *status = shm.base + VDEV + 24;
    int64_t until = peer_now_ms() + opt.timeout_ms;
    while (!(*status & STATUS_DRIVER_OK)) {
        if (peer_now_ms() > until)
            peer_fail(2, "the host did not write DRIVER_OK within %d ms (status 0x%x)", opt.timeout_ms, *status);
        peer_sleep_ms(1);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    ns = (rd32(shm.base + VDEV + 16) & VIRTIO_RPMSG_F_NS) != 0;
    vring_place(&vq0, &shm, VRING0, VRING_NUM, VRING_ALIGN);
    vring_place(&vq1, &shm, VRING1, VRING_NUM, VRING_ALIGN);
    vr_set_used_flags(&vq0, VRING_USED_F_NO_NOTIFY); /* no "rx buffers posted" kicks, please */
    peer_log("link up: features 0x%x", rd32(shm.base + VDEV + 16));
    if (ns)
        remote_announce(RPMSG_NS_CREATE);
    int64_t last = peer_now_ms();
    while (!shutdown_req && !host_gone) {
        int r = sock_wait(sock, 100);
        if (r < 0)
            break; /* the host closed the doorbell */
        if (r > 0)
            last = peer_now_ms();
        else if (peer_now_ms() - last > opt.timeout_ms)
            peer_fail(2, "no kick within %d ms after %ld echoes (vring 1 avail.idx %u, taken %u)",
                      opt.timeout_ms, echoed, vr_avail_idx(&vq1), next_avail1);
        remote_process();
    }
    if (shutdown_req && ns)
        remote_announce(RPMSG_NS_DESTROY); /* the echo app destroys its endpoint on the way out */
    peer_log("echoed %ld messages; %s", echoed, shutdown_req ? "shutdown by the host" : "the host closed the doorbell");
    return 0;
}

/* ---- host (virtio driver) --------------------------------------------------------------------- */

static void host_repost_rx(uint16_t id)
{
    vr_post(&vq0, id, POOL + (uint64_t)id * BUF_SIZE, BUF_SIZE, 1);
    if (opt.always_kick || !(vr_used_flags(&vq0) & VRING_USED_F_NO_NOTIFY))
        kick();
}

static void host_check_echo(const uint8_t *p, uint16_t len)
{
    uint64_t num = rd64(p), size = rd64(p + 8);
    if (len < 16 || size == 0 || size != (uint64_t)len - 16 || num != (uint64_t)rnum)
        peer_fail(2, "echo %ld: len %u, num %llu, size %llu", rnum, len, (unsigned long long)num, (unsigned long long)size);
    for (uint64_t i = 0; i < size; i++)
        if (p[16 + i] != 0xA5)
            peer_fail(2, "echo %ld: data corrupted at index %llu", rnum, (unsigned long long)i);
    rnum = (long)num + 1;
}

static void host_process(void)
{
    uint16_t id;
    uint32_t len;
    while (vr_take_used(&vq0, &next_used0, &id, &len)) {
        uint8_t *buf = shm_at(&shm, POOL + (uint64_t)id * BUF_SIZE, BUF_SIZE, "rx buffer");
        uint32_t src, dst;
        uint16_t plen;
        if (len < RPMSG_HDR_SIZE || len > BUF_SIZE)
            peer_fail(2, "used length %u of rx buffer %u", len, id);
        rpmsg_read_hdr(buf, &src, &dst, &plen);
        if (plen > len - RPMSG_HDR_SIZE)
            peer_fail(2, "header len %u exceeds used length %u", plen, len);
        const uint8_t *payload = buf + RPMSG_HDR_SIZE;
        char name[33];
        uint32_t addr, flags;
        if (dst == RPMSG_NS_ADDR && rpmsg_read_ns(payload, plen, name, &addr, &flags) && strcmp(name, opt.name) == 0) {
            if (flags == RPMSG_NS_CREATE)
                dest = addr;
            else if (flags == RPMSG_NS_DESTROY)
                peer_fail(3, "the remote destroyed '%s' after %ld echoes", opt.name, rnum);
        } else if (dst == EPT_ADDR) {
            host_check_echo(payload, plen);
        }
        host_repost_rx(id);
    }
}

static void host_send(uint32_t dst, const uint8_t *payload, uint16_t len)
{
    uint16_t id;
    uint32_t used_len;
    int64_t until = peer_now_ms() + 15000;
    for (;;) {
        /* Returned buffers come back with the used length, which becomes their size. */
        while (vr_take_used(&vq1, &next_used1, &id, &used_len)) {
            tx_len[id] = used_len;
            tx_free[tx_free_count++] = id;
        }
        if (tx_free_count > 0)
            break;
        if (peer_now_ms() > until)
            peer_fail(2, "no tx buffer returned within 15 s");
        peer_sleep_ms(1);
    }
    id = tx_free[--tx_free_count];
    if (tx_len[id] < RPMSG_HDR_SIZE + len)
        peer_fail(2, "tx buffer %u came back with used length %u; %u bytes needed", id, tx_len[id], RPMSG_HDR_SIZE + len);
    uint64_t addr = POOL + (uint64_t)(VRING_NUM + id) * BUF_SIZE;
    uint8_t *buf = shm_at(&shm, addr, BUF_SIZE, "tx buffer");
    rpmsg_write_hdr(buf, EPT_ADDR, dst, len);
    memcpy(buf + RPMSG_HDR_SIZE, payload, len);
    vr_post(&vq1, id, addr, tx_len[id], 0);
    if (opt.always_kick || !(vr_used_flags(&vq1) & VRING_USED_F_NO_NOTIFY))
        kick();
}

static void host_wait(int (*done)(void), const char *what)
{
    int64_t last = peer_now_ms();
    host_process();
    while (!done()) {
        int r = sock_wait(sock, 100);
        if (r < 0)
            peer_fail(3, "the remote closed the doorbell while waiting for %s (after %ld echoes)", what, rnum);
        if (r > 0)
            last = peer_now_ms();
        else if (peer_now_ms() - last > opt.timeout_ms)
            peer_fail(2, "no kick within %d ms while waiting for %s (vring 0 used.idx %u, taken %u)",
                      opt.timeout_ms, what, vr_used_idx(&vq0), next_used0);
        host_process();
    }
}

static long expected;
static int bound(void) { return dest != RPMSG_ADDR_ANY; } static int echo_back(void) { return rnum >= expected; }
static int cmp_i64(const void *a, const void *b) { return (*(const int64_t *)a > *(const int64_t *)b) - (*(const int64_t *)a < *(const int64_t *)b); }

static int run_host(void)
{
    sock = sock_connect(opt.sock_path, opt.timeout_ms);
    shm_map(opt.shm_path, SHM_SIZE, 0, &shm);
    uint8_t *t = shm_at(&shm, 0, 88, "resource table");
    if (rd32(t) != 1 || rd32(t + 4) < 1 || rd32(t + 16) != VDEV || rd32(t + VDEV) != 3 || rd32(t + VDEV + 4) != 7 || t[VDEV + 25] != 2)
        peer_fail(2, "no OpenAMP-style resource table at offset 0 (ver %u, num %u, first entry at %u)", rd32(t), rd32(t + 4), rd32(t + 16));
    uint32_t offered = rd32(t + VDEV + 12);
    for (int i = 0; i < 2; i++)
        if (rd32(t + 48 + 20 * i) != (i ? VRING1 : VRING0) || rd32(t + 56 + 20 * i) != VRING_NUM || rd32(t + 52 + 20 * i) != VRING_ALIGN)
            peer_fail(2, "vring %d is not at the demo's place (da 0x%x)", i, rd32(t + 48 + 20 * i));
    wr32(t + VDEV + 16, offered); /* acks every offered feature, EVENT_IDX included */
    ns = (offered & VIRTIO_RPMSG_F_NS) != 0;
    vring_place(&vq0, &shm, VRING0, VRING_NUM, VRING_ALIGN);
    vring_place(&vq1, &shm, VRING1, VRING_NUM, VRING_ALIGN);
    memset(vq0.desc, 0, (size_t)(vq0.used - vq0.desc) + 6 + 8 * VRING_NUM);
    memset(vq1.desc, 0, (size_t)(vq1.used - vq1.desc) + 6 + 8 * VRING_NUM);
    for (uint16_t i = 0; i < VRING_NUM; i++) {
        memset(shm_at(&shm, POOL + (uint64_t)i * BUF_SIZE, BUF_SIZE, "rx buffer"), 0, BUF_SIZE);
        vr_post(&vq0, i, POOL + (uint64_t)i * BUF_SIZE, BUF_SIZE, 1);
        tx_free[tx_free_count++] = (uint16_t)(VRING_NUM - 1 - i);
        tx_len[i] = BUF_SIZE;
    }
    vr_set_avail_flags(&vq1, VRING_AVAIL_F_NO_INTERRUPT); /* no tx-complete kicks */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    t[VDEV + 24] = STATUS_DRIVER_OK;
    peer_log("link up: features 0x%x", offered);
    uint8_t msg[496];
    if (ns) {
        rpmsg_write_ns(msg, opt.name, EPT_ADDR, RPMSG_NS_CREATE);
        host_send(RPMSG_NS_ADDR, msg, RPMSG_NS_SIZE);
    }
    host_wait(bound, "the remote's announcement");
    int64_t *rtt = malloc(sizeof(int64_t) * (size_t)(opt.count > 0 ? opt.count : 1));
    if (!rtt)
        peer_fail(2, "out of memory");
    for (long i = 0; i < opt.count; i++) {
        uint64_t size = 1 + (uint64_t)(i % 480);
        wr64(msg, (uint64_t)i);
        wr64(msg + 8, size);
        memset(msg + 16, 0xA5, size);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        expected = i + 1;
        host_send(dest, msg, (uint16_t)(16 + size));
        host_wait(echo_back, "an echo");
        clock_gettime(CLOCK_MONOTONIC, &b);
        rtt[i] = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
    }
    if (ns) {
        rpmsg_write_ns(msg, opt.name, EPT_ADDR, RPMSG_NS_DESTROY);
        host_send(RPMSG_NS_ADDR, msg, RPMSG_NS_SIZE);
    }
    qsort(rtt, (size_t)opt.count, sizeof *rtt, cmp_i64);
    if (opt.count > 0)
        peer_log("round trip (us): p50 %.1f p99 %.1f", rtt[opt.count / 2] / 1000.0, rtt[opt.count * 99 / 100] / 1000.0);
    free(rtt);
    peer_log("verified %ld/%ld echoes", rnum, opt.count);
    return 0;
}

int main(int argc, char **argv)
{
    peer_set_name("openamp_like_peer");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--always-kick") == 0) { opt.always_kick = 1; continue; }
        if (!v)
            peer_fail(1, "%s needs a value", a);
        if (strcmp(a, "--role") == 0) opt.role = v;
        else if (strcmp(a, "--shm") == 0) opt.shm_path = v;
        else if (strcmp(a, "--socket") == 0) opt.sock_path = v;
        else if (strcmp(a, "--name") == 0) opt.name = v;
        else if (strcmp(a, "--count") == 0) opt.count = strtol(v, NULL, 0);
        else if (strcmp(a, "--destroy-after") == 0) opt.destroy_after = strtol(v, NULL, 0);
        else if (strcmp(a, "--malformed-at") == 0) opt.malformed_at = strtol(v, NULL, 0);
        else if (strcmp(a, "--timeout") == 0) opt.timeout_ms = (int)strtol(v, NULL, 0) * 1000;
        else peer_fail(1, "unknown option %s", a);
        i++;
    }
    if (!opt.role || !opt.shm_path || !opt.sock_path || strlen(opt.name) > 31 || opt.count < 0 || opt.timeout_ms <= 0)
        peer_fail(1, "usage: --role remote|host --shm PATH --socket PATH [--name NAME] [--count N] [--timeout S] [--always-kick]");
    int rc = 1;
    if (strcmp(opt.role, "remote") == 0)
        rc = run_remote();
    else if (strcmp(opt.role, "host") == 0)
        rc = run_host();
    else
        peer_fail(1, "--role must be remote or host, not %s", opt.role);
    close(sock);
    shm_unmap(&shm);
    return rc;
}
