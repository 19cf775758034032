/* Raw round-trip limits of this machine, measured between two PROCESSES
 * (fork) so that the harness can compare the stack against them:
 *
 *   spin_cross     a cache line bounced between two cores over a shared
 *                  anonymous mapping (the busy-poll limit)
 *   eventfd_cross  an eventfd ping-pong with blocking reads, two cores
 *                  (the interrupt-style limit)
 *   eventfd_same   the same with both processes on one core
 *   ring_eventfd_cross (ring.c)
 *                  a 64-byte rpmsg echo over two split virtqueues in the
 *                  shared mapping, eventfd kicks, two cores: the least the
 *                  protocol itself adds to eventfd_cross (ring entries,
 *                  descriptors, header and payload move between the cores;
 *                  every index read from the peer is checked)
 *
 * Output, one line per metric (times in ns):
 *   metric=NAME cpus=A,B count=N min=.. p50=.. p90=.. p99=.. p999=.. max=.. mean=..
 * Lines starting with '#' are comments. Exit status 0 on success.
 *
 * Usage: pingpong [-n iterations] [-w warmup] [-a cpu] [-b cpu] [-t timeout_s]
 * Every wait is bounded: spins fall back to sleeping after a budget, and a
 * watchdog (alarm) ends both processes after the timeout. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"

#define SPIN_BUDGET 2000000u /* ~ms of spinning before each sleep */

struct shared {
    _Alignas(LINE) volatile uint64_t ping;
    _Alignas(LINE) volatile uint64_t pong;
};

long iterations = 100000;
long warmup = 10000;
static int timeout_s = 60;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits until *word == want; spins for a budget, then sleeps briefly between
 * checks so that a descheduled peer on a busy core still gets to run. */
static void wait_for(volatile uint64_t *word, uint64_t want)
{
    unsigned spins = 0;
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != want) {
        if (++spins < SPIN_BUDGET) {
            cpu_relax();
        } else {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(const uint64_t *sorted, long n, double p)
{
    long i = (long)(p * (double)n + 0.999999) - 1; /* nearest rank */
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

void report(const char *name, int a, int b, uint64_t *samples, long n)
{
    double sum = 0;
    qsort(samples, (size_t)n, sizeof(uint64_t), cmp_u64);
    for (long i = 0; i < n; i++)
        sum += (double)samples[i];
    printf("metric=%s cpus=%d,%d count=%ld min=%llu p50=%llu p90=%llu p99=%llu p999=%llu max=%llu mean=%.0f\n",
           name, a, b, n, (unsigned long long)samples[0],
           (unsigned long long)percentile(samples, n, 0.50), (unsigned long long)percentile(samples, n, 0.90),
           (unsigned long long)percentile(samples, n, 0.99), (unsigned long long)percentile(samples, n, 0.999),
           (unsigned long long)samples[n - 1], sum / (double)n);
    fflush(stdout);
}

/* Starts the echo side: pinned, dies with the parent, bounded by the watchdog. */
pid_t spawn(int cpu)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm((unsigned)timeout_s);
        if (pin(cpu) != 0)
            fprintf(stderr, "# warning: child could not pin to cpu %d: %s\n", cpu, strerror(errno));
    }
    return pid;
}

int reap(pid_t pid, const char *name)
{
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: echo process failed (status 0x%x)\n", name, status);
        return -1;
    }
    return 0;
}

static int run_spin(int a, int b, uint64_t *samples)
{
    long total = warmup + iterations;
    struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        perror("mmap");
        return -1;
    }
    s->ping = 0;
    s->pong = 0;
    pid_t pid = spawn(b);
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        for (uint64_t i = 1; i <= (uint64_t)total; i++) {
            wait_for(&s->ping, i);
            __atomic_store_n(&s->pong, i, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    for (uint64_t i = 1; i <= (uint64_t)total; i++) {
        uint64_t t0 = now_ns();
        __atomic_store_n(&s->ping, i, __ATOMIC_RELEASE);
        wait_for(&s->pong, i);
        uint64_t t1 = now_ns();
        if ((long)i > warmup)
            samples[i - 1 - (uint64_t)warmup] = t1 - t0;
    }
    int r = reap(pid, "spin");
    munmap(s, sizeof(*s));
    if (r == 0)
        report("spin_cross", a, b, samples, iterations);
    return r;
}

int read_one(int fd)
{
    uint64_t v;
    for (;;) {
        ssize_t n = read(fd, &v, sizeof(v));
        if (n == (ssize_t)sizeof(v))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

int write_one(int fd)
{
    uint64_t one = 1;
    return write(fd, &one, sizeof(one)) == (ssize_t)sizeof(one) ? 0 : -1;
}

static int run_eventfd(const char *name, int a, int b, uint64_t *samples)
{
    long total = warmup + iterations;
    int to_child = eventfd(0, EFD_CLOEXEC), to_parent = eventfd(0, EFD_CLOEXEC);
    if (to_child < 0 || to_parent < 0) {
        perror("eventfd");
        return -1;
    }
    pid_t pid = spawn(b);
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        for (long i = 0; i < total; i++)
            if (read_one(to_child) != 0 || write_one(to_parent) != 0)
                _exit(3);
        _exit(0);
    }
    int failed = 0;
    for (long i = 0; i < total && !failed; i++) {
        uint64_t t0 = now_ns();
        failed = write_one(to_child) != 0 || read_one(to_parent) != 0;
        uint64_t t1 = now_ns();
        if (i >= warmup)
            samples[i - warmup] = t1 - t0;
    }
    if (failed) {
        perror("eventfd ping-pong");
        kill(pid, SIGKILL);
    }
    int r = reap(pid, name);
    close(to_child);
    close(to_parent);
    if (r == 0 && !failed)
        report(name, a, b, samples, iterations);
    return failed ? -1 : r;
}

int main(int argc, char **argv)
{
    int a = 0, b = 1, opt;
    while ((opt = getopt(argc, argv, "n:w:a:b:t:h")) != -1) {
        switch (opt) {
        case 'n': iterations = atol(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'a': a = atoi(optarg); break;
        case 'b': b = atoi(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-n iterations] [-w warmup] [-a cpu] [-b cpu] [-t timeout_s]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (iterations <= 0 || warmup < 0 || a < 0 || b < 0 || timeout_s <= 0) {
        fprintf(stderr, "pingpong: iterations must be > 0, warmup >= 0, cpus >= 0, timeout > 0\n");
        return 2;
    }
    uint64_t *samples = malloc((size_t)iterations * sizeof(uint64_t));
    if (samples == NULL) {
        fprintf(stderr, "pingpong: cannot allocate %ld samples\n", iterations);
        return 2;
    }
    alarm((unsigned)timeout_s); /* watchdog: SIGALRM ends a stuck run */
    if (pin(a) != 0)
        fprintf(stderr, "# warning: could not pin to cpu %d: %s\n", a, strerror(errno));
    printf("# pingpong iterations=%ld warmup=%ld cpus=%d,%d online=%ld\n", iterations, warmup, a, b, sysconf(_SC_NPROCESSORS_ONLN));
    int r = 0;
    r |= run_spin(a, b, samples);
    r |= run_eventfd("eventfd_cross", a, b, samples);
    r |= run_eventfd("eventfd_same", a, a, samples);
    r |= run_ring(a, b, samples);
    free(samples);
    return r == 0 ? 0 : 1;
}
