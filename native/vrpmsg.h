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

VR_EXPORT int vr_open(const char *path, int mode, int *fd);
VR_EXPORT int vr_close(int fd);
VR_EXPORT int vr_fstat_size(int fd, int64_t *size);
VR_EXPORT int vr_ftruncate(int fd, int64_t size);
VR_EXPORT int vr_memfd_create(const char *name, int *fd);
VR_EXPORT int64_t vr_page_size(void);

/* Maps [offset, offset+length) of fd shared read-write. With guard > 0 the
 * mapping is surrounded by `guard` bytes of PROT_NONE on each side so that a
 * stray access faults; *addr is the start of the usable mapping either way.
 * fd < 0 maps anonymous shared memory. */
VR_EXPORT int vr_map(int fd, uint64_t length, int64_t offset, uint64_t guard, void **addr);
VR_EXPORT int vr_unmap(void *addr, uint64_t length, uint64_t guard);

/* One 32-bit store/load to a memory-mapped device register. */
VR_EXPORT void vr_mmio_write32(volatile uint32_t *reg, uint32_t value);
VR_EXPORT uint32_t vr_mmio_read32(volatile uint32_t *reg);

#endif
