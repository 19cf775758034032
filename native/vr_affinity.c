/* CPU pinning: sched_setaffinity / sched_getcpu. Benchmarks and dispatcher
 * threads pin themselves so that a measurement says which cores it used. */
#define _GNU_SOURCE
#include "vrpmsg.h"
#include <errno.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

static int vr_pin(pid_t tid, int cpu)
{
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -EINVAL;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* pid 0 = the calling thread; a thread id pins only that thread. */
    return sched_setaffinity(tid, sizeof(set), &set) < 0 ? -errno : 0;
}

int vr_pin_current_thread(int cpu)
{
    return vr_pin(0, cpu);
}

int vr_pin_process(int pid, int cpu)
{
    return vr_pin((pid_t)pid, cpu);
}

int vr_unpin_current_thread(void)
{
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n <= 0 || n > CPU_SETSIZE)
        n = CPU_SETSIZE;
    CPU_ZERO(&set);
    for (long i = 0; i < n; i++)
        CPU_SET((int)i, &set);
    return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int vr_get_current_cpu(void)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? -errno : cpu;
}

int vr_affinity_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return -errno;
    return CPU_COUNT(&set);
}
