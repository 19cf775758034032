#define _GNU_SOURCE
#include "vrpmsg.h"
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

int vr_membarrier_query(void)
{
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return r < 0 ? -errno : (int)r;
}
