/* RPMsg-Lite configuration for the Linux user-space interop build (this project's own file). */
#ifndef RPMSG_CONFIG_H_
#define RPMSG_CONFIG_H_
#include <stdio.h>
#include <stdlib.h>

#define RL_MS_PER_INTERVAL (1)
#ifndef RL_BUFFER_PAYLOAD_SIZE
#define RL_BUFFER_PAYLOAD_SIZE (496U)
#endif
#ifndef RL_BUFFER_COUNT
#define RL_BUFFER_COUNT (2U) /* RPMsg-Lite's default; the script builds 2 and 256 */
#endif
#define RL_API_HAS_ZEROCOPY (1)
#define RL_USE_STATIC_API (0)
#define RL_CLEAR_USED_BUFFERS (0)
#define RL_USE_DCACHE (0)
#define RL_USE_MCMGR_IPC_ISR_HANDLER (0)
#define RL_USE_ENVIRONMENT_CONTEXT (0)
#define RL_DEBUG_CHECK_BUFFERS (0)
#ifndef RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION
#define RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION (0) /* RPMsg-Lite's default; the script also builds 1 (--consumed-kicks) */
#endif
#define RL_ASSERT(x)                                                                   \
    do {                                                                               \
        if (!(x)) {                                                                    \
            fprintf(stderr, "RL_ASSERT failed: %s (%s:%d)\n", #x, __FILE__, __LINE__); \
            abort();                                                                   \
        }                                                                              \
    } while (0)
#endif
