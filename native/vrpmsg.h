/* VirtioRpmsg native shim: only what C# cannot do well (mapping, doorbells,
 * interrupts). Every function returns 0 (or a non-negative value) on success
 * and -errno on failure; the C# side turns that into a specific exception. */
#ifndef VRPMSG_H
#define VRPMSG_H
#include <stdint.h>

#define VR_EXPORT __attribute__((visibility("default")))

/* open modes understood by vr_open */
#define VR_OPEN_READ 0
#define VR_OPEN_READWRITE 1
#define VR_OPEN_CREATE 2   /* read-write, create if missing (0600) */
#define VR_OPEN_SYNC 3     /* read-write, O_SYNC (uncached /dev/mem) */
#define VR_OPEN_CREATE_NEW 4 /* read-write, create, fail with EEXIST if it exists (0600) */
#define VR_OPEN_WRITE 5    /* write-only (sysfs attributes, as `echo word > attribute` opens them) */

VR_EXPORT int vr_open(const char *path, int mode, int *fd);
VR_EXPORT int vr_close(int fd);
VR_EXPORT int vr_fstat_size(int fd, int64_t *size);
/* st_blksize of fd: the huge page size on hugetlbfs (mappings of such a file are in units of it). */
VR_EXPORT int vr_fstat_block_size(int fd, int64_t *block);
VR_EXPORT int vr_ftruncate(int fd, int64_t size);
VR_EXPORT int vr_memfd_create(const char *name, int *fd);
/* Seals a memfd's size (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL); reads the seals of any fd. */
VR_EXPORT int vr_memfd_seal(int fd);
VR_EXPORT int vr_get_seals(int fd, int *seals);
VR_EXPORT int64_t vr_page_size(void);

/* Full-system barriers for a remote outside the inner-shareable domain (BarrierDomain.System), the
 * strength Linux's virtio ring uses with weak_barriers = false. None of them blocks or sleeps. */
VR_EXPORT void vr_barrier_publish(void); /* before an index store: dmb oshst */
VR_EXPORT void vr_barrier_consume(void); /* after an index load: dmb oshld */
VR_EXPORT void vr_barrier_full(void);    /* store->load, before a notification check: dsb sy */

/* Write-prefetches every 64-byte line of [p, p + bytes): prefetchw / prfm pstl1keep. A hint; never faults. */
VR_EXPORT void vr_prefetch_write(const void *p, uint32_t bytes);
/* Read-prefetches every 64-byte line of [p, p + bytes): prfm pldl1keep (ARM64; C# issues prefetcht0 itself on x86-64). */
VR_EXPORT void vr_prefetch_read(const void *p, uint32_t bytes);

/* Maps [offset, offset+length) of fd shared read-write. With guard > 0 the
 * mapping is surrounded by `guard` bytes of PROT_NONE on each side so that a
 * stray access faults; *addr is the start of the usable mapping either way.
 * fd < 0 maps anonymous shared memory. */
VR_EXPORT int vr_map(int fd, uint64_t length, int64_t offset, uint64_t guard, void **addr);
VR_EXPORT int vr_unmap(void *addr, uint64_t length, uint64_t guard);

/* One 32-bit store/load to a memory-mapped device register. */
VR_EXPORT void vr_mmio_write32(volatile uint32_t *reg, uint32_t value);
VR_EXPORT uint32_t vr_mmio_read32(volatile uint32_t *reg);

/* ---- doorbells (vr_doorbell.c) ------------------------------------------
 * All descriptors are created CLOEXEC and non-blocking. Read/write/send
 * return the byte count or -errno; nothing here ever blocks except vr_poll2. */

/* socket types understood by the unix-socket functions */
#define VR_SOCK_STREAM 0
#define VR_SOCK_SEQPACKET 1

/* vr_poll2 *ready bits */
#define VR_READY_FD 1       /* fd readable/writable, or hung up / in error */
#define VR_READY_WAKE 2     /* the wake fd is readable */
#define VR_READY_INVALID 4  /* fd is not open (POLLNVAL) */
#define VR_READY_HANGUP 8   /* fd hung up, or (input) its peer will send nothing more (POLLHUP, POLLRDHUP) */

VR_EXPORT int vr_eventfd(int *fd);
VR_EXPORT int vr_read(int fd, void *buf, int len);
VR_EXPORT int vr_write(int fd, const void *buf, int len);
/* send with MSG_DONTWAIT | MSG_NOSIGNAL: never blocks, never raises SIGPIPE */
VR_EXPORT int vr_send(int fd, const void *buf, int len);
VR_EXPORT int vr_set_nonblocking(int fd);
VR_EXPORT int vr_set_blocking(int fd);
VR_EXPORT int vr_read_nowait(int fd, void *buf, int len);
/* write() that never blocks whatever the file's mode: RWF_NOWAIT (-EOPNOTSUPP where the file or kernel
 * lacks it, e.g. an eventfd), and its fallback that polls for room first (-EAGAIN when there is none). */
VR_EXPORT int vr_write_nowait(int fd, const void *buf, int len);
VR_EXPORT int vr_write_if_room(int fd, const void *buf, int len);
VR_EXPORT int vr_dup(int fd, int *out);
/* Polls fd (for input, or for output when want_write != 0) and wake_fd (for
 * input) with a timeout in ms (-1 = none). *ready gets VR_READY_* bits;
 * 0 means timeout. Returns -EINTR on a signal (the caller retries). */
VR_EXPORT int vr_poll2(int fd, int want_write, int wake_fd, int timeout_ms, int *ready);
/* Polls up to VR_MAX_POLL fds for input with a timeout in ms (-1 = none).
 * Bit i of *ready: fds[i] readable, hung up or in error; bit i of *invalid:
 * fds[i] is not open (POLLNVAL). Both 0 means timeout. -EINTR on a signal. */
#define VR_MAX_POLL 8
VR_EXPORT int vr_poll_many(const int *fds, int n, int timeout_ms, int *ready, int *invalid);

/* Unix-domain sockets. abstract != 0 uses the Linux abstract namespace
 * (no file on disk); name is then given without the leading NUL. */
VR_EXPORT int vr_unix_listen(const char *name, int abstract, int type, int *fd);
VR_EXPORT int vr_unix_connect(const char *name, int abstract, int type, int *fd);
VR_EXPORT int vr_unix_accept(int listen_fd, int *fd);
VR_EXPORT int vr_socketpair(int type, int *fds);
/* 1 if path exists and is a socket, 0 if it exists and is not, -errno otherwise */
VR_EXPORT int vr_is_socket(const char *path);

/* SCM_RIGHTS: send len bytes of data with nfds descriptors (MSG_NOSIGNAL).
 * Receive with MSG_CMSG_CLOEXEC; a truncated message, or one with more than
 * maxfds descriptors, closes whatever arrived and returns -EMSGSIZE; -EMFILE (also
 * closing what arrived) when this process had no descriptor numbers left for them. */
VR_EXPORT int vr_send_fds(int sock, const void *data, int len, const int *fds, int nfds);
VR_EXPORT int vr_recv_fds(int sock, void *data, int len, int *fds, int maxfds, int *nfds);

/* ---- CPU affinity (vr_affinity.c) ----------------------------------------
 * Pinning to one CPU; cpu is a logical CPU number. */
VR_EXPORT int vr_pin_current_thread(int cpu);
/* pid 0 = the calling thread; otherwise that process's main thread (and, on
 * Linux, the thread whose id it is; other threads keep their mask). */
VR_EXPORT int vr_pin_process(int pid, int cpu);
/* Allows every configured CPU again. */
VR_EXPORT int vr_unpin_current_thread(void);
/* The CPU the caller runs on now (>= 0) or -errno. */
VR_EXPORT int vr_get_current_cpu(void);
/* How many CPUs the calling thread may run on, or -errno. */
VR_EXPORT int vr_affinity_count(void);

/* membarrier(MEMBARRIER_CMD_QUERY): the bitmask of supported commands, or -errno. The lease
 * handshake relies on the runtime's process-wide barrier being a real membarrier. */
VR_EXPORT int vr_membarrier_query(void);

/* ---- futex (vr_futex.c) --------------------------------------------------
 * Sleeps while *word == expected, at most timeout_ns (< 0: no limit): 0 when woken (or spuriously),
 * -EAGAIN when *word differed, -ETIMEDOUT, -EINTR. */
VR_EXPORT int vr_futex_wait(int32_t *word, int32_t expected, int64_t timeout_ns);
/* Wakes every thread sleeping on word; never blocks. The count woken, or -errno. */
VR_EXPORT int vr_futex_wake(int32_t *word);

#endif
