/* Linux user-space glue for RPMsg-Lite (this project's own code; see rpmsg_platform.h). */
#ifndef RL_GLUE_H_
#define RL_GLUE_H_
#include <stddef.h>
#include <stdint.h>

extern const char *glue_name;
void glue_fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void glue_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t glue_now_ms(void);

/* Maps the shared-memory file (created and sized when create is set); returns its base. */
void *glue_map(const char *path, size_t size, int create);
void glue_unmap(void);
/* Doorbell: the remote listens (and unlinks the socket once connected), the master connects. */
void glue_listen(const char *path, int timeout_ms);
void glue_connect(const char *path, int timeout_ms);
void glue_close(void);
/* Waits up to timeout_ms for kicks and delivers them as interrupts (env_isr on both vrings of link 0,
 * when enabled). Returns 1 if a kick arrived, 0 if none, -1 if the other side closed the doorbell. */
int glue_wait(int timeout_ms);
extern long glue_kicks_sent, glue_kicks_received;
#endif
