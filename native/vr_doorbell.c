/* Doorbell system calls: eventfd, poll with a wake fd, Unix-domain sockets and
 * SCM_RIGHTS descriptor passing. Only the calls; the logic lives in C#. */
#define _GNU_SOURCE
#include "vrpmsg.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define VR_MAX_FDS 8

int vr_eventfd(int *fd)
{
    int r = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

int vr_read(int fd, void *buf, int len)
{
    ssize_t n = read(fd, buf, (size_t)len);
    return n < 0 ? -errno : (int)n;
}

int vr_write(int fd, const void *buf, int len)
{
    ssize_t n = write(fd, buf, (size_t)len);
    return n < 0 ? -errno : (int)n;
}

int vr_send(int fd, const void *buf, int len)
{
    ssize_t n = send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? -errno : (int)n;
}

int vr_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int vr_set_blocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* A non-blocking read of a descriptor left in blocking mode (RWF_NOWAIT): an eventfd
 * waiter can then block in read() itself, one system call per wake-up instead of
 * poll() + read(). -EOPNOTSUPP where the kernel (before 5.12 for eventfd) lacks it. */
int vr_read_nowait(int fd, void *buf, int len)
{
    struct iovec io = { buf, (size_t)len };
    ssize_t n = preadv2(fd, &io, 1, -1, RWF_NOWAIT);
    return n < 0 ? -errno : (int)n;
}

/* A write that never blocks, whatever the file's mode: a peer sharing the open file (a descriptor passed
 * over SCM_RIGHTS) may put it back in blocking mode at any time and stop reading. pwritev2(RWF_NOWAIT):
 * pipes and sockets honour it; -EOPNOTSUPP where the file (an eventfd) or the kernel does not. */
int vr_write_nowait(int fd, const void *buf, int len)
{
    struct iovec io = { (void *)buf, (size_t)len };
    ssize_t n = pwritev2(fd, &io, 1, -1, RWF_NOWAIT);
    if (n >= 0)
        return (int)n;
    return errno == EINVAL || errno == ENOSYS ? -EOPNOTSUPP : -errno;
}

/* The fallback of vr_write_nowait: writes only when poll() finds room (-EAGAIN otherwise). An eventfd write
 * of a small count blocks only on a counter at 2^64 - 2; poll reports that as not writable. */
int vr_write_if_room(int fd, const void *buf, int len)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    int r = poll(&p, 1, 0);
    if (r < 0)
        return -errno;
    if (r == 0 || (p.revents & POLLOUT) == 0)
        return (p.revents & POLLNVAL) ? -EBADF : -EAGAIN;
    ssize_t n = write(fd, buf, (size_t)len);
    return n < 0 ? -errno : (int)n;
}

int vr_dup(int fd, int *out)
{
    int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (r < 0)
        return -errno;
    *out = r;
    return 0;
}

int vr_poll2(int fd, int want_write, int wake_fd, int timeout_ms, int *ready)
{
    struct pollfd p[2];
    p[0].fd = fd;
    p[0].events = want_write ? POLLOUT : (POLLIN | POLLRDHUP);
    p[0].revents = 0;
    p[1].fd = wake_fd;
    p[1].events = POLLIN;
    p[1].revents = 0;
    int r = poll(p, 2, timeout_ms);
    if (r < 0)
        return -errno;
    int bits = 0;
    if (p[0].revents & POLLNVAL)
        bits |= VR_READY_INVALID;
    else if (p[0].revents)
        bits |= VR_READY_FD;
    if (p[0].revents & (POLLHUP | POLLRDHUP))
        bits |= VR_READY_HANGUP;
    if (p[1].revents)
        bits |= VR_READY_WAKE;
    *ready = bits;
    return 0;
}

int vr_poll_many(const int *fds, int n, int timeout_ms, int *ready, int *invalid)
{
    if (n < 1 || n > VR_MAX_POLL)
        return -EINVAL;
    struct pollfd p[VR_MAX_POLL];
    for (int i = 0; i < n; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    int r = poll(p, (nfds_t)n, timeout_ms);
    if (r < 0)
        return -errno;
    int bits = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].revents & POLLNVAL)
            bad |= 1 << i;
        else if (p[i].revents)
            bits |= 1 << i;
    }
    *ready = bits;
    *invalid = bad;
    return 0;
}

static int make_address(const char *name, int abstract, struct sockaddr_un *addr, socklen_t *len)
{
    size_t n = strlen(name);
    /* abstract: leading NUL + name (no terminator); path: name + terminator */
    if (n == 0 || n + 1 > sizeof(addr->sun_path))
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(addr->sun_path + 1, name, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        memcpy(addr->sun_path, name, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

static int sock_type(int type)
{
    return (type == VR_SOCK_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK;
}

/* Creates a socket for `name` and either binds+listens or connects it. */
static int unix_socket(const char *name, int abstract, int type, int listening, int *fd)
{
    struct sockaddr_un addr;
    socklen_t len;
    int r = make_address(name, abstract, &addr, &len);
    if (r < 0)
        return r;
    int s = socket(AF_UNIX, sock_type(type), 0);
    if (s < 0)
        return -errno;
    /* A non-blocking Unix connect completes at once or fails (EAGAIN when the
     * listener's backlog is full); it never returns EINPROGRESS. */
    int failed = listening
        ? (bind(s, (struct sockaddr *)&addr, len) < 0 || listen(s, 4) < 0)
        : connect(s, (struct sockaddr *)&addr, len) < 0;
    if (failed) {
        int e = errno;
        close(s);
        return -e;
    }
    *fd = s;
    return 0;
}

int vr_unix_listen(const char *name, int abstract, int type, int *fd)
{
    return unix_socket(name, abstract, type, 1, fd);
}

int vr_unix_connect(const char *name, int abstract, int type, int *fd)
{
    return unix_socket(name, abstract, type, 0, fd);
}

int vr_unix_accept(int listen_fd, int *fd)
{
    int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s < 0)
        return -errno;
    *fd = s;
    return 0;
}

int vr_socketpair(int type, int *fds)
{
    return socketpair(AF_UNIX, sock_type(type), 0, fds) == 0 ? 0 : -errno;
}

int vr_is_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -errno;
    return S_ISSOCK(st.st_mode) ? 1 : 0;
}

int vr_send_fds(int sock, const void *data, int len, const int *fds, int nfds)
{
    if (nfds < 0 || nfds > VR_MAX_FDS || len <= 0)
        return -EINVAL;
    union {
        char buf[CMSG_SPACE(sizeof(int) * VR_MAX_FDS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = { .iov_base = (void *)data, .iov_len = (size_t)len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? -errno : (int)n;
}

int vr_recv_fds(int sock, void *data, int len, int *fds, int maxfds, int *nfds)
{
    if (maxfds < 0 || maxfds > VR_MAX_FDS || len <= 0)
        return -EINVAL;
    union {
        char buf[CMSG_SPACE(sizeof(int) * VR_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = data, .iov_len = (size_t)len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                          .msg_controllen = sizeof(control.buf) };
    ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -errno;
    int count = 0, extra = 0, arrived = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[VR_MAX_FDS];
        if (k > VR_MAX_FDS)
            k = VR_MAX_FDS;
        arrived += k;
        memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)k);
        for (int i = 0; i < k; i++) {
            if (count < maxfds)
                fds[count++] = got[i];
            else {
                close(got[i]); /* more than the caller asked for: never leak */
                extra = 1;
            }
        }
    }
    if (extra || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (int i = 0; i < count; i++)
            close(fds[i]);
        *nfds = 0;
        /* Cut short with room left for more: the kernel could not install them here (this process is out of
         * descriptor numbers, RLIMIT_NOFILE), which is no fault of the sender's message. */
        if (!extra && (msg.msg_flags & MSG_CTRUNC) && !(msg.msg_flags & MSG_TRUNC) && arrived < VR_MAX_FDS)
            return -EMFILE;
        return -EMSGSIZE;
    }
    *nfds = count;
    return (int)n;
}
