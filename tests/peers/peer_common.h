/*
 * Shared parts of the C test peers (tests/peers/): the shared-memory file, a Unix-socket doorbell
 * with one byte per kick, and the split virtqueue (legacy layout) seen from either side. Written
 * from the wire facts in docs/wire-format.md; C99 + POSIX, libc only.
 *
 * Every index and descriptor read from shared memory is checked before use: a peer that is wrong
 * must fail loudly (exit 2 with a message), never read out of bounds.
 */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY 1u
#define VIRTIO_RING_F_EVENT_IDX (1u << 29)
#define VIRTIO_RPMSG_F_NS 1u

#define RPMSG_HDR_SIZE 16u
#define RPMSG_NS_ADDR 53u
#define RPMSG_NS_SIZE 40u
#define RPMSG_NS_CREATE 0u
#define RPMSG_NS_DESTROY 1u
#define RPMSG_ADDR_ANY 0xFFFFFFFFu

/* Exit codes: 0 success, 1 usage, 2 protocol or test failure, 3 the other side went away. */
void peer_fail(int code, const char *fmt, ...);
void peer_log(const char *fmt, ...);
void peer_set_name(const char *name);

/* Milliseconds on the monotonic clock; a sleep of that many. */
int64_t peer_now_ms(void);
void peer_sleep_ms(int ms);

/* The shared-memory file: opened (created and sized when create is set) and mapped. */
typedef struct {
    uint8_t *base;
    size_t size;
} peer_shm;

void shm_map(const char *path, size_t size, int create, peer_shm *out);
void shm_unmap(peer_shm *shm);
/* Pointer to [offset, offset+len) inside the mapping, or exit 2 naming what. */
uint8_t *shm_at(const peer_shm *shm, uint64_t offset, uint64_t len, const char *what);

/* Unix stream socket doorbell. The server accepts one peer and removes the socket file. */
int sock_accept(const char *path, int timeout_ms);
int sock_connect(const char *path, int timeout_ms);
/* One byte, blocking send(): a peer that never reads makes this call block (OpenAMP's behaviour). */
int sock_kick(int fd);
/* Waits up to timeout_ms for kicks, then reads at most 32 bytes. 1 kicked, 0 timeout, -1 peer closed. */
int sock_wait(int fd, int timeout_ms);

/* One split virtqueue (legacy layout) in the mapping. */
typedef struct {
    uint8_t *desc;
    uint8_t *avail;
    uint8_t *used;
    uint16_t num;
} peer_vring;

void vring_place(peer_vring *vr, const peer_shm *shm, uint64_t offset, uint16_t num, uint32_t align);

uint16_t vr_avail_idx(const peer_vring *vr);
uint16_t vr_used_idx(const peer_vring *vr);
uint16_t vr_avail_flags(const peer_vring *vr);
uint16_t vr_used_flags(const peer_vring *vr);
void vr_set_avail_flags(peer_vring *vr, uint16_t flags);
void vr_set_used_flags(peer_vring *vr, uint16_t flags);

/* Device side: takes the next available single-descriptor buffer; 0 if none. */
int vr_take_avail(const peer_vring *vr, const peer_shm *shm, uint16_t *next_avail,
                  uint16_t *head, uint8_t **buf, uint32_t *len);
/* Device side: returns head with len on the used ring (used.idx read from and written to shared memory). */
void vr_push_used(peer_vring *vr, uint16_t head, uint32_t len);

/* Driver side: writes descriptor id and publishes it on the avail ring. */
void vr_post(peer_vring *vr, uint16_t id, uint64_t addr, uint32_t len, int device_writable);
/* Driver side: takes the next used element; 0 if none. The id is checked against num. */
int vr_take_used(const peer_vring *vr, uint16_t *next_used, uint16_t *id, uint32_t *len);

/* rpmsg header and name-service message. */
void rpmsg_write_hdr(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t len);
void rpmsg_read_hdr(const uint8_t *buf, uint32_t *src, uint32_t *dst, uint16_t *len);
void rpmsg_write_ns(uint8_t *payload, const char *name, uint32_t addr, uint32_t flags);
/* 1 if the payload is a well-formed NS message (fields copied out), 0 otherwise. */
int rpmsg_read_ns(const uint8_t *payload, uint16_t len, char name[33], uint32_t *addr, uint32_t *flags);

uint32_t rd32(const uint8_t *p);
void wr32(uint8_t *p, uint32_t v);
uint64_t rd64(const uint8_t *p);
void wr64(uint8_t *p, uint64_t v);

#endif
