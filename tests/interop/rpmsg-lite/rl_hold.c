/* Held receive buffers for the glue apps' --nocopy mode (this project's own code; see rl_hold.h). */
#include "rl_hold.h"
#include "rl_glue.h"

static struct rpmsg_lite_instance *hold_rl;
static struct held_buffer held[RL_BUFFER_COUNT];
static unsigned held_count, limit = 1;
long hold_released, hold_out_of_order;
unsigned hold_most;

void hold_init(struct rpmsg_lite_instance *rl, unsigned max)
{
    hold_rl = rl;
    limit = max < 1 ? 1 : max > RL_BUFFER_COUNT ? RL_BUFFER_COUNT : max;
}

unsigned hold_limit(void) { return limit; }
unsigned hold_count(void) { return held_count; }
struct held_buffer *hold_at(unsigned i) { return &held[i]; }

int32_t hold_push(void *data, uint32_t len, uint32_t src)
{
    if (held_count >= RL_BUFFER_COUNT)
        glue_fail(2, "more than RL_BUFFER_COUNT (%u) receive buffers held", RL_BUFFER_COUNT);
    held[held_count++] = (struct held_buffer){ .data = data, .len = len, .src = src };
    hold_most = held_count > hold_most ? held_count : hold_most;
    return RL_HOLD;
}

void hold_forget(void) { held_count = 0; }

void hold_release_all(void)
{
    while (held_count > 0) {
        held_count--;
        int32_t r = rpmsg_lite_release_rx_buffer(hold_rl, held[held_count].data);
        if (r != RL_SUCCESS)
            glue_fail(2, "rpmsg_lite_release_rx_buffer failed: %d", r);
        hold_released++;
        hold_out_of_order += held_count > 0;
    }
}
