/*
 * Platform layer interface for running NXP RPMsg-Lite as a Linux user-space process against this
 * project's stack (tests/interop/rpmsg-lite-real.sh). Written for this project: it declares what
 * RPMsg-Lite's core expects from a platform (rpmsg_lite.c includes "rpmsg_platform.h") and contains
 * no RPMsg-Lite code. Shared memory is a mmap'ed file, "physical" address == offset in the file;
 * the doorbell is a Unix stream socket, one byte per kick.
 */
#ifndef RPMSG_PLATFORM_H_
#define RPMSG_PLATFORM_H_

#include <stdint.h>

#ifndef VRING_ALIGN
#define VRING_ALIGN (0x1000U)
#endif
#ifndef VRING_SIZE
#define VRING_SIZE (0x8000UL)
#endif
#define RL_VRING_OVERHEAD (2UL * VRING_SIZE)

/* Virtqueue ids: two per link, bit 0 the queue (0: vring 0, 1: vring 1), the link above it. One link here. */
#define RL_PLATFORM_MAX_ISR_COUNT (4U)
#define RL_GET_VQ_ID(link, queue) ((((uint32_t)(link)) << 1U) | (((uint32_t)(queue)) & 1U))
#define RL_GET_LINK_ID(vq) (((uint32_t)(vq)) >> 1U)
#define RL_GET_Q_ID(vq) (((uint32_t)(vq)) & 1U)
#define RL_PLATFORM_HIGHEST_LINK_ID (0U)

int32_t platform_init_interrupt(uint32_t vector_id, void *isr_data);
int32_t platform_deinit_interrupt(uint32_t vector_id);
int32_t platform_interrupt_enable(uint32_t vector_id);
int32_t platform_interrupt_disable(uint32_t vector_id);
int32_t platform_in_isr(void);
void platform_notify(uint32_t vector_id);
void platform_time_delay(uint32_t num_msec);
void platform_map_mem_region(uint32_t vrt_addr, uint32_t phy_addr, uint32_t size, uint32_t flags);
void platform_cache_all_flush_invalidate(void);
void platform_cache_disable(void);
uintptr_t platform_vatopa(void *addr);
void *platform_patova(uintptr_t addr);
int32_t platform_init(void);
int32_t platform_deinit(void);

#endif
