/* Shared parts of the C test peers: see peer_common.h. */
#define _POSIX_C_SOURCE 200809L
#include "peer_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *peer_name = "peer";

void peer_set_name(const char *name) { peer_name = name; }

void peer_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", peer_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

void peer_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

int64_t peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void peer_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void shm_map(const char *path, size_t size, int create, peer_shm *out)
{
    int fd = open(path, O_RDWR | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        peer_fail(2, "open %s: %s", path, strerror(errno));
    if (create && ftruncate(fd, (off_t)size) != 0)
        peer_fail(2, "ftruncate %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < size)
        peer_fail(2, "%s is smaller than 0x%zx bytes", path, size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        peer_fail(2, "mmap %s: %s", path, strerror(errno));
    out->base = p;
    out->size = size;
}

void shm_unmap(peer_shm *shm)
{
    if (shm->base)
        munmap(shm->base, shm->size);
    shm->base = NULL;
}

uint8_t *shm_at(const peer_shm *shm, uint64_t offset, uint64_t len, const char *what)
{
    if (offset > shm->size || len > shm->size - offset)
        peer_fail(2, "%s: [0x%llx, +0x%llx) is outside the 0x%zx-byte shared memory", what,
                  (unsigned long long)offset, (unsigned long long)len, shm->size);
    return shm->base + offset;
}

static void sock_address(const char *path, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path)
        peer_fail(1, "socket path too long: %s", path);
    strcpy(addr->sun_path, path);
}

int sock_accept(const char *path, int timeout_ms)
{
    struct sockaddr_un addr;
    sock_address(path, &addr);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0)
        peer_fail(2, "listen on %s: %s", path, strerror(errno));
    peer_log("listening on %s", path);
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
        unlink(path);
        peer_fail(2, "no connection on %s within %d ms", path, timeout_ms);
    }
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    unlink(path); /* connected: the file is not needed any more, and nothing is left in /tmp */
    if (fd < 0)
        peer_fail(2, "accept on %s: %s", path, strerror(errno));
    return fd;
}

int sock_connect(const char *path, int timeout_ms)
{
    struct sockaddr_un addr;
    sock_address(path, &addr);
    int64_t until = peer_now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        if (peer_now_ms() > until)
            peer_fail(2, "could not connect to %s within %d ms", path, timeout_ms);
        peer_sleep_ms(10);
    }
}

int sock_kick(int fd)
{
    char one = 1;
    return send(fd, &one, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

int sock_wait(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return 0;
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0)
        return 1;
    return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
}

/* ---- split virtqueue --------------------------------------------------------------------- */

static uint16_t ld16_acquire(const uint8_t *p) { return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE); }
static void st16_release(uint8_t *p, uint16_t v) { __atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE); }

void vring_place(peer_vring *vr, const peer_shm *shm, uint64_t offset, uint16_t num, uint32_t align)
{
    uint64_t avail_end = 16ull * num + 2ull * (3 + num);
    uint64_t used_off = (avail_end + align - 1) & ~(uint64_t)(align - 1);
    uint64_t total = used_off + 6 + 8ull * num;
    vr->desc = shm_at(shm, offset, total, "vring");
    vr->avail = vr->desc + 16ull * num;
    vr->used = vr->desc + used_off;
    vr->num = num;
}

uint16_t vr_avail_idx(const peer_vring *vr) { return ld16_acquire(vr->avail + 2); }
uint16_t vr_used_idx(const peer_vring *vr) { return ld16_acquire(vr->used + 2); }
uint16_t vr_avail_flags(const peer_vring *vr) { __atomic_thread_fence(__ATOMIC_SEQ_CST); return ld16_acquire(vr->avail); }
uint16_t vr_used_flags(const peer_vring *vr) { __atomic_thread_fence(__ATOMIC_SEQ_CST); return ld16_acquire(vr->used); }
void vr_set_avail_flags(peer_vring *vr, uint16_t flags) { st16_release(vr->avail, flags); }
void vr_set_used_flags(peer_vring *vr, uint16_t flags) { st16_release(vr->used, flags); }

int vr_take_avail(const peer_vring *vr, const peer_shm *shm, uint16_t *next_avail,
                  uint16_t *head, uint8_t **buf, uint32_t *len)
{
    uint16_t idx = vr_avail_idx(vr);
    if (idx == *next_avail)
        return 0;
    if ((uint16_t)(idx - *next_avail) > vr->num)
        peer_fail(2, "avail.idx %u is more than %u past %u", idx, vr->num, *next_avail);
    uint16_t h;
    memcpy(&h, vr->avail + 4 + 2 * (*next_avail % vr->num), 2);
    if (h >= vr->num)
        peer_fail(2, "avail.ring head %u >= num %u", h, vr->num);
    const uint8_t *d = vr->desc + 16u * h;
    uint64_t addr = rd64(d);
    uint32_t l = rd32(d + 8);
    uint16_t flags;
    memcpy(&flags, d + 12, 2);
    if (flags & VRING_DESC_F_NEXT)
        peer_fail(2, "descriptor %u is chained; rpmsg buffers are single descriptors", h);
    *buf = shm_at(shm, addr, l, "descriptor buffer");
    *head = h;
    *len = l;
    (*next_avail)++;
    return 1;
}

void vr_push_used(peer_vring *vr, uint16_t head, uint32_t len)
{
    /* Continue from the shared used.idx: this side is its only writer. */
    uint16_t idx = vr_used_idx(vr);
    uint8_t *e = vr->used + 4 + 8u * (idx % vr->num);
    wr32(e, head);
    wr32(e + 4, len);
    st16_release(vr->used + 2, (uint16_t)(idx + 1));
}

void vr_post(peer_vring *vr, uint16_t id, uint64_t addr, uint32_t len, int device_writable)
{
    uint8_t *d = vr->desc + 16u * id;
    uint16_t flags = device_writable ? VRING_DESC_F_WRITE : 0, next = 0;
    wr64(d, addr);
    wr32(d + 8, len);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    uint16_t idx = vr_avail_idx(vr);
    memcpy(vr->avail + 4 + 2 * (idx % vr->num), &id, 2);
    st16_release(vr->avail + 2, (uint16_t)(idx + 1));
}

int vr_take_used(const peer_vring *vr, uint16_t *next_used, uint16_t *id, uint32_t *len)
{
    uint16_t idx = vr_used_idx(vr);
    if (idx == *next_used)
        return 0;
    if ((uint16_t)(idx - *next_used) > vr->num)
        peer_fail(2, "used.idx %u is more than %u past %u", idx, vr->num, *next_used);
    const uint8_t *e = vr->used + 4 + 8u * (*next_used % vr->num);
    uint32_t i = rd32(e);
    if (i >= vr->num)
        peer_fail(2, "used id %u >= num %u", i, vr->num);
    *id = (uint16_t)i;
    *len = rd32(e + 4);
    (*next_used)++;
    return 1;
}

/* ---- rpmsg ----------------------------------------------------------------------------------- */

void rpmsg_write_hdr(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t len)
{
    uint16_t flags = 0;
    wr32(buf, src);
    wr32(buf + 4, dst);
    wr32(buf + 8, 0);
    memcpy(buf + 12, &len, 2);
    memcpy(buf + 14, &flags, 2);
}

void rpmsg_read_hdr(const uint8_t *buf, uint32_t *src, uint32_t *dst, uint16_t *len)
{
    *src = rd32(buf);
    *dst = rd32(buf + 4);
    memcpy(len, buf + 12, 2);
}

void rpmsg_write_ns(uint8_t *payload, const char *name, uint32_t addr, uint32_t flags)
{
    memset(payload, 0, 32);
    strncpy((char *)payload, name, 32);
    wr32(payload + 32, addr);
    wr32(payload + 36, flags);
}

int rpmsg_read_ns(const uint8_t *payload, uint16_t len, char name[33], uint32_t *addr, uint32_t *flags)
{
    if (len < RPMSG_NS_SIZE)
        return 0;
    memcpy(name, payload, 32);
    name[32] = 0;
    *addr = rd32(payload + 32);
    *flags = rd32(payload + 36);
    return 1;
}
