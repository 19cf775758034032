/* What the baseline's metrics share (pingpong.c), and the metrics defined in
 * their own files (ring.c). */
#ifndef VRPMSG_BASELINE_H
#define VRPMSG_BASELINE_H

#include <stdint.h>
#include <sys/types.h>

#define LINE 64

extern long iterations; /* recorded round trips per metric */
extern long warmup;     /* round trips before recording */

uint64_t now_ns(void);
/* Forks the echo side pinned to cpu (0 in the child), bounded by the watchdog. */
pid_t spawn(int cpu);
int reap(pid_t pid, const char *name);
int read_one(int fd);
int write_one(int fd);
void report(const char *name, int a, int b, uint64_t *samples, long n);

int run_ring(int a, int b, uint64_t *samples);

#endif
