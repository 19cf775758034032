#include "vrpmsg.h"

/* A write prefetch asks for a line in a state this core may store to (the other core's copy invalidated) without
 * storing: a later store finds the line here, and a fence in between does not wait for the transfer, as it would
 * for a store. Only a hint: no architectural effect, no fault even on an unmapped address. Integer arithmetic on
 * the addresses: the first line may start before p. */
void vr_prefetch_write(const void *p, uint32_t bytes)
{
    uintptr_t end = (uintptr_t)p + bytes;
    for (uintptr_t at = (uintptr_t)p & ~(uintptr_t)63; at < end; at += 64) {
#if defined(__aarch64__)
        __asm__ volatile("prfm pstl1keep, [%0]" :: "r"(at));
#elif defined(__x86_64__)
        /* PREFETCHW; a NOP on x86-64 cores that predate it. */
        __asm__ volatile("prefetchw (%0)" :: "r"(at));
#else
        (void)at;
#endif
    }
}

/* A read prefetch starts the transfer of a line the next copy will read, without waiting for it. Managed code issues
 * prefetcht0 itself on x86-64; this is the ARM64 form, which .NET does not expose. */
void vr_prefetch_read(const void *p, uint32_t bytes)
{
    uintptr_t end = (uintptr_t)p + bytes;
    for (uintptr_t at = (uintptr_t)p & ~(uintptr_t)63; at < end; at += 64) {
#if defined(__aarch64__)
        __asm__ volatile("prfm pldl1keep, [%0]" :: "r"(at));
#elif defined(__x86_64__)
        __asm__ volatile("prefetcht0 (%0)" :: "r"(at));
#else
        (void)at;
#endif
    }
}
