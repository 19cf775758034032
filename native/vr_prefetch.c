#include "vrpmsg.h"

/* A write prefetch asks for a line in a state this core may store to (the other core's copy invalidated) without
 * storing: a later store finds the line here, and a fence in between does not wait for the transfer, as it would
 * for a store. Only a hint: no architectural effect, no fault even on an unmapped address. */
void vr_prefetch_write(const void *p, uint32_t bytes)
{
    const char *at = (const char *)((uintptr_t)p & ~(uintptr_t)63);
    const char *end = (const char *)p + bytes;
    for (; at < end; at += 64) {
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
