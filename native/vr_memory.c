#define _GNU_SOURCE
#include "vrpmsg.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int vr_open(const char *path, int mode, int *fd)
{
    int flags = O_CLOEXEC;
    switch (mode) {
    case VR_OPEN_READ: flags |= O_RDONLY; break;
    case VR_OPEN_READWRITE: flags |= O_RDWR; break;
    case VR_OPEN_CREATE: flags |= O_RDWR | O_CREAT; break;
    case VR_OPEN_SYNC: flags |= O_RDWR | O_SYNC; break;
    case VR_OPEN_CREATE_NEW: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    case VR_OPEN_WRITE: flags |= O_WRONLY; break;
    default: return -EINVAL;
    }
    int r = open(path, flags, 0600);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

int vr_close(int fd)
{
    return close(fd) == 0 ? 0 : -errno;
}

int vr_fstat_size(int fd, int64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = (int64_t)st.st_size;
    return 0;
}

int vr_fstat_block_size(int fd, int64_t *block)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    /* hugetlbfs reports its huge page size here: the unit mmap offsets and munmap lengths must be multiples of. */
    *block = (int64_t)st.st_blksize;
    return 0;
}

int vr_ftruncate(int fd, int64_t size)
{
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int vr_memfd_create(const char *name, int *fd)
{
    /* Sealable, so the creator can seal the size once it is set (vr_memfd_seal). */
    int r = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

int vr_memfd_seal(int fd)
{
    /* The size is final: nobody may shrink (SIGBUS for every mapper) or grow it, and nobody may add a
     * seal later (a write seal would make our next writable mmap, on remap, fail). */
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0 ? 0 : -errno;
}

int vr_get_seals(int fd, int *seals)
{
    int r = fcntl(fd, F_GET_SEALS);
    if (r < 0)
        return -errno;
    *seals = r;
    return 0;
}

int64_t vr_page_size(void)
{
    return (int64_t)sysconf(_SC_PAGESIZE);
}

int vr_map(int fd, uint64_t length, int64_t offset, uint64_t guard, void **addr)
{
    if (length == 0 || offset < 0)
        return -EINVAL;
    /* The guard must be whole pages, and guard + length + guard must not wrap: a wrapped total
     * would reserve too little and the MAP_FIXED below would clobber unrelated mappings. */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (guard % page != 0)
        return -EINVAL;
    if (guard > (UINT64_MAX - length) / 2)
        return -EOVERFLOW;
    int share = fd < 0 ? (MAP_SHARED | MAP_ANONYMOUS) : MAP_SHARED;
    if (guard == 0) {
        void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, share, fd, (off_t)offset);
        if (p == MAP_FAILED)
            return -errno;
        *addr = p;
        return 0;
    }
    /* Reserve guard + length + guard with no access, then put the real
     * mapping over the middle: the guards stay PROT_NONE. The reservation is
     * shared (not private) so that every mapping this library makes is a shared
     * one in /proc/self/maps, apart from the runtime's private heap and code:
     * leak tests count exactly those. PROT_NONE + MAP_NORESERVE commits nothing. */
    uint64_t total = length + 2 * guard;
    void *res = mmap(NULL, total, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return -errno;
    void *mid = (char *)res + guard;
    void *p = mmap(mid, length, PROT_READ | PROT_WRITE, share | MAP_FIXED, fd, (off_t)offset);
    if (p == MAP_FAILED) {
        int e = errno;
        munmap(res, total);
        return -e;
    }
    *addr = p;
    return 0;
}

int vr_unmap(void *addr, uint64_t length, uint64_t guard)
{
    if (guard > (UINT64_MAX - length) / 2)
        return -EOVERFLOW;
    void *start = (char *)addr - guard;
    return munmap(start, length + 2 * guard) == 0 ? 0 : -errno;
}

void vr_mmio_write32(volatile uint32_t *reg, uint32_t value)
{
    /* The caller published ring updates with ordinary (release) stores to normal memory; the
     * register may be Device memory. Order those stores before the doorbell, as Linux's writel
     * does: dmb oshst on ARM64; x86 keeps stores in order, so only the compiler must not reorder. */
#if defined(__aarch64__)
    __asm__ volatile("dmb oshst" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
    *reg = value;
}

uint32_t vr_mmio_read32(volatile uint32_t *reg)
{
    uint32_t value = *reg;
    /* A status register read comes before the reads of the rings it reports on. On ARM64 a load from
     * Device memory does not order later loads from normal memory: dmb oshld after it, as Linux's readl
     * (__iormb). x86 keeps loads in order; only the compiler must not move them. */
#if defined(__aarch64__)
    __asm__ volatile("dmb oshld" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
    return value;
}
