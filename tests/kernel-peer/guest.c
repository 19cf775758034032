/* Guest side of tests/kernel-peer.sh: runs inside the User-Mode Linux kernel (as a program of this
 * machine, reached through hostfs) and talks to our vhost-user rpmsg back-end through the kernel's own
 * rpmsg_char / rpmsg_ctrl devices. One line per check on stdout and in DIR/results:
 * "PASS name detail" or "FAIL name detail"; "BENCH ..." lines carry round-trip latencies.
 *
 *   kpguest roundtrips N DIR   kernel-created endpoint (RPMSG_CREATE_EPT_IOCTL) -> echo service,
 *                              N verified round trips at sizes 0..496, then a timed 32-byte run
 *   kpguest ns DIR             our announcement of rpmsg-raw makes a /dev/rpmsgN; echo through it;
 *                              then wait for our destroy to remove it (DIR/ns-wait and DIR/ns-ready tell
 *                              the script when to send each)
 *   kpguest loop DIR           round trips until killed (DIR/loop-started after the first 100)
 *   kpguest poweroff           reboot(RB_POWER_OFF)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rpmsg.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 496
#define WAIT_MS 30000

static const char *dir = ".";
static int failures;

static void report(int ok, const char *name, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    char line[700];
    snprintf(line, sizeof line, "%s %s %s\n", ok ? "PASS" : "FAIL", name, detail);
    if (!ok)
        failures++;
    fputs(line, stdout);
    fflush(stdout);
    char path[512];
    snprintf(path, sizeof path, "%s/results", dir);
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

static void touch(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static int read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return 0;
}

/* The address of the first rpmsg bus device whose name contains `service` (its "dst"), waiting for it. */
static long find_service(const char *service, int wait_ms)
{
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        DIR *d = opendir("/sys/bus/rpmsg/devices");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strstr(e->d_name, service) == NULL)
                continue;
            char path[512], text[64];
            snprintf(path, sizeof path, "/sys/bus/rpmsg/devices/%s/dst", e->d_name);
            if (read_text(path, text, sizeof text) == 0) {
                closedir(d);
                return strtol(text, NULL, 0);
            }
        }
        if (d)
            closedir(d);
        sleep_ms(50);
    }
    return -1;
}

/* The /dev/rpmsgN whose class device is named `name`, waiting for it; "" if none. */
static int find_char_device(const char *name, char *out, size_t len, int wait_ms)
{
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        DIR *d = opendir("/sys/class/rpmsg");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "rpmsg", 5) != 0 || strncmp(e->d_name, "rpmsg_ctrl", 10) == 0)
                continue;
            char path[512], text[64];
            snprintf(path, sizeof path, "/sys/class/rpmsg/%s/name", e->d_name);
            if (read_text(path, text, sizeof text) == 0 && strcmp(text, name) == 0) {
                snprintf(out, len, "/dev/%s", e->d_name);
                struct stat st;
                if (stat(out, &st) == 0) {
                    closedir(d);
                    return 0;
                }
            }
        }
        if (d)
            closedir(d);
        sleep_ms(50);
    }
    out[0] = 0;
    return -1;
}

/* One round trip of `len` bytes: write, read the echo, compare. Returns 0 or a negative step code. */
static int round_trip(int fd, unsigned char *out, unsigned char *in, int len)
{
    if (write(fd, out, (size_t)len) != len)
        return -1;
    ssize_t n = read(fd, in, MAX_PAYLOAD);
    if (n != len)
        return -2;
    if (memcmp(out, in, (size_t)len) != 0)
        return -3;
    return 0;
}

/* A kernel-created endpoint through rpmsg_ctrl towards the echo service; returns its fd or -1. */
static int create_endpoint(const char *name, long echo)
{
    int ctrl = open("/dev/rpmsg_ctrl0", O_RDWR);
    if (ctrl < 0) {
        report(0, "ctrl-open", "/dev/rpmsg_ctrl0: %s", strerror(errno));
        return -1;
    }
    struct rpmsg_endpoint_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "%s", name);
    info.src = 0xFFFFFFFF; /* RPMSG_ADDR_ANY: the kernel picks the local address */
    info.dst = (uint32_t)echo;
    int r = ioctl(ctrl, RPMSG_CREATE_EPT_IOCTL, &info);
    close(ctrl);
    if (r < 0) {
        report(0, "ctrl-create-ept", "RPMSG_CREATE_EPT_IOCTL: %s", strerror(errno));
        return -1;
    }
    char dev[300];
    if (find_char_device(name, dev, sizeof dev, WAIT_MS) < 0) {
        report(0, "ctrl-create-ept", "no /dev/rpmsgN named %s appeared", name);
        return -1;
    }
    int fd = open(dev, O_RDWR);
    if (fd < 0)
        report(0, "ctrl-create-ept", "%s: %s", dev, strerror(errno));
    else
        report(1, "ctrl-create-ept", "%s -> echo at 0x%lx", dev, echo);
    return fd;
}

static int compare_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static int roundtrips(int count)
{
    long echo = find_service("rpmsg-echo", WAIT_MS);
    if (echo < 0) {
        report(0, "ns-echo-announced", "no rpmsg-echo device on the rpmsg bus");
        return 1;
    }
    report(1, "ns-echo-announced", "rpmsg-echo at 0x%lx", echo);
    int fd = create_endpoint("kp-ctrl", echo);
    if (fd < 0)
        return 1;
    unsigned char out[MAX_PAYLOAD], in[MAX_PAYLOAD];
    unsigned seed = 12345;
    int bad = 0, first_bad = -1, code = 0;
    for (int i = 0; i < count && bad == 0; i++) {
        int len = i % (MAX_PAYLOAD + 1);
        for (int k = 0; k < len; k++)
            out[k] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        if ((code = round_trip(fd, out, in, len)) != 0) {
            bad++;
            first_bad = i;
        }
    }
    if (bad == 0)
        report(1, "roundtrips", "%d round trips at sizes 0..%d, all verified", count, MAX_PAYLOAD);
    else
        report(0, "roundtrips", "%d round trips at sizes 0..%d, first failure at %d (code %d)", count, MAX_PAYLOAD,
               first_bad, code);
    /* The benchmark row: 32-byte round trips, timed one by one. */
    enum { N = 5000 };
    static long lat[N];
    memset(out, 0x5a, 32);
    for (int i = 0; i < 200 && bad == 0; i++)
        bad += round_trip(fd, out, in, 32) != 0;
    for (int i = 0; i < N && bad == 0; i++) {
        long t0 = now_ns();
        bad += round_trip(fd, out, in, 32) != 0;
        lat[i] = now_ns() - t0;
    }
    if (bad == 0) {
        qsort(lat, N, sizeof lat[0], compare_long);
        long sum = 0;
        for (int i = 0; i < N; i++)
            sum += lat[i];
        char line[256];
        snprintf(line, sizeof line, "BENCH kernel-rpmsg_char size=32 count=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f\n",
                 N, lat[N / 2] / 1000.0, lat[N * 9 / 10] / 1000.0, lat[N * 99 / 100] / 1000.0, sum / (double)N / 1000.0);
        fputs(line, stdout);
        char path[512];
        snprintf(path, sizeof path, "%s/results", dir);
        FILE *f = fopen(path, "a");
        if (f) {
            fputs(line, f);
            fclose(f);
        }
    }
    int r = ioctl(fd, RPMSG_DESTROY_EPT_IOCTL);
    report(r == 0, "ctrl-destroy-ept", "RPMSG_DESTROY_EPT_IOCTL: %s", r == 0 ? "ok" : strerror(errno));
    close(fd);
    return failures != 0;
}

static void wait_for_rpmsg_node(int watch)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd p = {.fd = watch, .events = POLLIN};
    long deadline = now_ns() + WAIT_MS * 1000000L;
    for (long left; (left = (deadline - now_ns()) / 1000000L) > 0 && poll(&p, 1, (int)left) > 0;) {
        ssize_t n = read(watch, buf, sizeof buf);
        for (char *at = buf; n > 0 && at < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)at;
            if (e->len && strncmp(e->name, "rpmsg", 5) == 0 && e->name[5] >= '0' && e->name[5] <= '9')
                return;
            at += sizeof *e + e->len;
        }
    }
}

static int name_service(void)
{
    int watch = inotify_init1(IN_CLOEXEC); /* before ns-wait, so the new /dev/rpmsgN cannot be missed */
    if (watch >= 0 && inotify_add_watch(watch, "/dev", IN_CREATE) >= 0) {
        touch("ns-wait");
        wait_for_rpmsg_node(watch);
    } else {
        touch("ns-wait"); /* no inotify: find_service below polls (unprotected) */
    }
    if (watch >= 0)
        close(watch);
    long raw = find_service("rpmsg-raw", WAIT_MS);
    if (raw < 0) {
        report(0, "ns-announce", "our rpmsg-raw announcement made no rpmsg device");
        return 1;
    }
    char dev[300];
    if (find_char_device("rpmsg-raw", dev, sizeof dev, WAIT_MS) < 0) {
        report(0, "ns-announce", "rpmsg-raw at 0x%lx but no /dev/rpmsgN bound to it", raw);
        return 1;
    }
    report(1, "ns-announce", "rpmsg-raw at 0x%lx became %s", raw, dev);
    int fd = open(dev, O_RDWR);
    unsigned char out[64] = "hello from the kernel's rpmsg_char", in[MAX_PAYLOAD];
    int len = (int)strlen((char *)out);
    int code = fd < 0 ? -9 : round_trip(fd, out, in, len);
    report(code == 0, "ns-channel-echo", "%s: %d-byte echo through the announced channel (code %d)", dev, len, code);
    touch("ns-ready");
    /* Our destroy now: the device must go away. Blocked in poll until then (it wakes the readers). */
    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, WAIT_MS);
        close(fd);
    }
    int gone = 0;
    for (int waited = 0; waited <= WAIT_MS && !gone; waited += 50) {
        gone = find_service("rpmsg-raw", 0) < 0;
        if (!gone)
            sleep_ms(50);
    }
    report(gone, "ns-destroy", gone ? "rpmsg-raw device removed after our destroy" : "rpmsg-raw device still present 30 s after our destroy");
    return failures != 0;
}

static int loop_forever(void)
{
    long echo = find_service("rpmsg-echo", WAIT_MS);
    int fd = echo < 0 ? -1 : create_endpoint("kp-loop", echo);
    if (fd < 0)
        return 1;
    unsigned char out[MAX_PAYLOAD], in[MAX_PAYLOAD];
    memset(out, 0xa5, sizeof out);
    for (long i = 0;; i++) {
        if (round_trip(fd, out, in, (int)(i % (MAX_PAYLOAD + 1))) != 0) {
            report(0, "loop", "round trip %ld failed", i);
            return 1;
        }
        if (i == 100)
            touch("loop-started");
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "poweroff") == 0) {
        sync();
        reboot(RB_POWER_OFF);
        return 1;
    }
    if (argc >= 4 && strcmp(argv[1], "roundtrips") == 0) {
        dir = argv[3];
        return roundtrips(atoi(argv[2]));
    }
    if (argc >= 3 && strcmp(argv[1], "ns") == 0) {
        dir = argv[2];
        return name_service();
    }
    if (argc >= 3 && strcmp(argv[1], "loop") == 0) {
        dir = argv[2];
        return loop_forever();
    }
    fprintf(stderr, "usage: kpguest roundtrips N DIR | ns DIR | loop DIR | poweroff\n");
    return 2;
}
