/*
 * Linux user-space environment and platform layer for NXP RPMsg-Lite (this project's own code, no
 * RPMsg-Lite code): env_* as a bare-metal port would provide them, platform_* over a mmap'ed file and
 * a Unix-socket doorbell. Interrupts are delivered synchronously whenever the application waits
 * (glue_wait) or RPMsg-Lite sleeps (env_sleep_msec), like an MCU taking its IPC interrupt while it
 * idles; so the core never runs concurrently with itself, as in RPMsg-Lite's bare-metal environment.
 *
 * Addresses: "physical" address == offset in the shared-memory file, as this project's presets
 * (deviceAddress 0x0) expect. A kick carries no vring id (one byte, as the presets' unixSocket
 * doorbell), so a received kick runs the ISR of both virtqueues of link 0, as an MU channel
 * interrupt that carries either vring id would.
 */
#define _GNU_SOURCE
#include "rl_glue.h"

#include "rpmsg_env.h"
#include "rpmsg_lite.h"
#include "rpmsg_platform.h"
#include "virtqueue.h"

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

const char *glue_name = "rl";
long glue_kicks_sent, glue_kicks_received;
static uint8_t *shm_base;
static size_t shm_size;
static int sock_fd = -1;
static int in_isr;
static void *isr_data[RL_PLATFORM_MAX_ISR_COUNT];
static int isr_enabled[RL_PLATFORM_MAX_ISR_COUNT];

void glue_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", glue_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

void glue_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", glue_name);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

int64_t glue_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void *glue_map(const char *path, size_t size, int create)
{
    int fd = open(path, O_RDWR | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        glue_fail(2, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0)
        glue_fail(2, "stat %s: %s", path, strerror(errno));
    if ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0)
        glue_fail(2, "size %s to %zu: %s", path, size, strerror(errno));
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        glue_fail(2, "mmap %s: %s", path, strerror(errno));
    shm_base = p;
    shm_size = size;
    return p;
}

void glue_unmap(void)
{
    if (shm_base)
        munmap(shm_base, shm_size);
    shm_base = NULL;
}

static void sock_addr(const char *path, struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path)
        glue_fail(1, "socket path too long: %s", path);
    strcpy(a->sun_path, path);
}

void glue_listen(const char *path, int timeout_ms)
{
    struct sockaddr_un a;
    sock_addr(path, &a);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0)
        glue_fail(2, "listen on %s: %s", path, strerror(errno));
    glue_log("listening on %s", path);
    struct pollfd p = { .fd = l, .events = POLLIN };
    if (poll(&p, 1, timeout_ms) <= 0) {
        unlink(path);
        glue_fail(2, "no connection on %s within %d ms", path, timeout_ms);
    }
    sock_fd = accept(l, NULL, NULL);
    close(l);
    unlink(path);
    if (sock_fd < 0)
        glue_fail(2, "accept on %s: %s", path, strerror(errno));
}

void glue_connect(const char *path, int timeout_ms)
{
    struct sockaddr_un a;
    sock_addr(path, &a);
    int64_t until = glue_now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            sock_fd = fd;
            return;
        }
        if (fd >= 0)
            close(fd);
        if (glue_now_ms() > until)
            glue_fail(2, "could not connect to %s within %d ms", path, timeout_ms);
        usleep(10000);
    }
}

void glue_close(void)
{
    if (sock_fd >= 0)
        close(sock_fd);
    sock_fd = -1;
}

int glue_wait(int timeout_ms)
{
    struct pollfd p = { .fd = sock_fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
    if (r < 0)
        return -1;
    char buf[64];
    ssize_t n = read(sock_fd, buf, sizeof buf);
    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    glue_kicks_received += n;
    if (!in_isr) {
        in_isr = 1;
        for (uint32_t q = 0; q < 2; q++) {
            uint32_t v = RL_GET_VQ_ID(0U, q);
            if (isr_enabled[v] && isr_data[v])
                env_isr(v);
        }
        in_isr = 0;
    }
    return 1;
}

/* ---- platform layer ---------------------------------------------------------------------------- */

int32_t platform_init(void) { return 0; }
int32_t platform_deinit(void) { return 0; }

int32_t platform_init_interrupt(uint32_t vector_id, void *data)
{
    RL_ASSERT(vector_id < RL_PLATFORM_MAX_ISR_COUNT);
    env_register_isr(vector_id, data);
    return 0;
}

int32_t platform_deinit_interrupt(uint32_t vector_id)
{
    env_unregister_isr(vector_id);
    return 0;
}

int32_t platform_interrupt_enable(uint32_t vector_id)
{
    isr_enabled[vector_id] = 1;
    return 0;
}

int32_t platform_interrupt_disable(uint32_t vector_id)
{
    isr_enabled[vector_id] = 0;
    return 0;
}

int32_t platform_in_isr(void) { return in_isr; }

void platform_notify(uint32_t vector_id)
{
    (void)vector_id; /* one byte per kick, whatever the vring, as the presets' socket doorbell */
    char one = 1;
    for (;;) { /* blocking, as an MU send waits for its register */
        ssize_t n = send(sock_fd, &one, 1, MSG_NOSIGNAL);
        if (n == 1)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        return; /* the other side went away; the application notices on its next wait */
    }
    glue_kicks_sent++;
}

void platform_time_delay(uint32_t num_msec)
{
    if (in_isr || sock_fd < 0) {
        usleep(num_msec * 1000u);
        return;
    }
    (void)glue_wait((int)num_msec); /* an interrupt may fire while the core sleeps */
}

void platform_map_mem_region(uint32_t va, uint32_t pa, uint32_t size, uint32_t flags)
{
    (void)va, (void)pa, (void)size, (void)flags;
}
void platform_cache_all_flush_invalidate(void) {}
void platform_cache_disable(void) {}

uintptr_t platform_vatopa(void *addr)
{
    uint8_t *p = addr;
    if (p < shm_base || p >= shm_base + shm_size)
        glue_fail(2, "vatopa: %p is outside the shared memory", addr);
    return (uintptr_t)(p - shm_base);
}

void *platform_patova(uintptr_t addr)
{
    if (addr >= shm_size)
        glue_fail(2, "patova: address 0x%lx is outside the 0x%zx-byte shared memory", (unsigned long)addr, shm_size);
    return shm_base + addr;
}

/* ---- environment layer (bare-metal semantics) -------------------------------------------------- */

int32_t env_init(void) { return platform_init(); }
int32_t env_deinit(void) { return platform_deinit(); }
void *env_allocate_memory(uint32_t size) { return malloc(size); }
void env_free_memory(void *ptr) { free(ptr); }
void env_memset(void *ptr, int32_t value, uint32_t size) { memset(ptr, value & 0xff, size); }
void env_memcpy(void *dst, void const *src, uint32_t len) { memcpy(dst, src, len); }
int32_t env_strcmp(const char *dst, const char *src) { return strcmp(dst, src); }
void env_strncpy(char *dest, const char *src, uint32_t len) { strncpy(dest, src, len); }
int32_t env_strncmp(char *dest, const char *src, uint32_t len) { return strncmp(dest, src, len); }
void env_mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void env_rmb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void env_wmb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
uint32_t env_map_vatopa(void *address) { return (uint32_t)platform_vatopa(address); }
void *env_map_patova(uint32_t address) { return platform_patova(address); }
int32_t env_create_mutex(void **lock, int32_t count)
{
    (void)count;
    *lock = lock;
    return 0;
}
void env_delete_mutex(void *lock) { (void)lock; }
void env_lock_mutex(void *lock) { (void)lock; }
void env_unlock_mutex(void *lock) { (void)lock; }
void env_sleep_msec(uint32_t num_msec) { platform_time_delay(num_msec); }
void env_register_isr(uint32_t vector_id, void *data)
{
    RL_ASSERT(vector_id < RL_PLATFORM_MAX_ISR_COUNT);
    isr_data[vector_id] = data;
}
void env_unregister_isr(uint32_t vector_id)
{
    RL_ASSERT(vector_id < RL_PLATFORM_MAX_ISR_COUNT);
    isr_data[vector_id] = NULL;
}
void env_enable_interrupt(uint32_t vector_id) { (void)platform_interrupt_enable(vector_id); }
void env_disable_interrupt(uint32_t vector_id) { (void)platform_interrupt_disable(vector_id); }
void env_map_memory(uint32_t pa, uint32_t va, uint32_t size, uint32_t flags) { platform_map_mem_region(va, pa, size, flags); }
void env_disable_cache(void) {}
void env_cache_flush(void *data, uint32_t len) { (void)data, (void)len; }
void env_cache_invalidate(void *data, uint32_t len) { (void)data, (void)len; }
void env_isr(uint32_t vector)
{
    RL_ASSERT(vector < RL_PLATFORM_MAX_ISR_COUNT);
    virtqueue_notification((struct virtqueue *)isr_data[vector]);
}
uint32_t env_wait_for_link_up(volatile uint32_t *link_state, uint32_t link_id, uint32_t timeout_ms)
{
    (void)link_id;
    int64_t until = glue_now_ms() + (int64_t)timeout_ms;
    while (*link_state != 1U) {
        if (timeout_ms != (uint32_t)RL_BLOCK && glue_now_ms() >= until)
            return 0U;
        env_sleep_msec(RL_MS_PER_INTERVAL);
    }
    return 1U;
}
void env_tx_callback(uint32_t link_id) { (void)link_id; }
