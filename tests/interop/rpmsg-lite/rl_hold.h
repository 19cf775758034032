/*
 * Held receive buffers for the glue apps' --nocopy mode (this project's own code): the rx callback returns
 * RL_HOLD and records the buffer here; the application releases the held buffers with
 * rpmsg_lite_release_rx_buffer, NEWEST FIRST, so the other side sees its buffers come back out of order.
 */
#ifndef RL_HOLD_H_
#define RL_HOLD_H_
#include "rpmsg_lite.h"

struct held_buffer {
    void *data;
    uint32_t len, src;
    int done; /* the application's mark (the echo remote: echoed) */
};

/* At most `limit` buffers are held (clamped to 1..RL_BUFFER_COUNT, all the other side can have out). */
void hold_init(struct rpmsg_lite_instance *rl, unsigned limit);
unsigned hold_limit(void);
/* Records a received buffer; returns RL_HOLD (fails the process if more than RL_BUFFER_COUNT are held). */
int32_t hold_push(void *data, uint32_t len, uint32_t src);
unsigned hold_count(void);
struct held_buffer *hold_at(unsigned i);
/* Forgets the held buffers without releasing them (a reset). */
void hold_forget(void);
/* Releases every held buffer, newest first. */
void hold_release_all(void);
/* Buffers released, and how many of them while an older one was still held (returned out of order). */
extern long hold_released, hold_out_of_order;
/* The most buffers held at once (an interrupt may deliver more than the limit before the application runs). */
extern unsigned hold_most;
#endif
