/* A private futex word: the in-process loopback doorbell's wait and wake. A wake takes only the
 * kernel's hash-bucket lock (as an eventfd write does) and needs no descriptor. */
#define _GNU_SOURCE
#include "vrpmsg.h"
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int vr_futex_wait(int32_t *word, int32_t expected, int64_t timeout_ns)
{
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout_ns < 0 ? NULL : &ts, NULL, 0);
    return r == 0 ? 0 : -errno;
}

int vr_futex_wake(int32_t *word)
{
    long r = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}
