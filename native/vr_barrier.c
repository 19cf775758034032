#include "vrpmsg.h"

/* Linux arm64: dma_wmb() = dmb oshst, dma_rmb() = dmb oshld, mb() = dsb sy. x86-64 keeps stores in order
 * and loads in order (TSO), so only the compiler must not move accesses across publish/consume; the
 * store->load fence is mfence, as Linux's mb(). */
void vr_barrier_publish(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dmb oshst" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

void vr_barrier_consume(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dmb oshld" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

void vr_barrier_full(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dsb sy" ::: "memory");
#elif defined(__x86_64__)
    __asm__ volatile("mfence" ::: "memory");
#else
    __sync_synchronize();
#endif
}
