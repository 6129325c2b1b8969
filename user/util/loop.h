/* The event loop: one epoll instance, fd handlers, periodic ticks, and end-of-iteration flush
 * hooks. Single-threaded; every module registers its fds here through the daemon context.
 */
#ifndef NTS_UTIL_LOOP_H
#define NTS_UTIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct nts_loop;
typedef void (*nts_io_fn)(void *arg, int fd, uint32_t events);
typedef void (*nts_tick_fn)(void *arg, uint64_t now_ms);

/* Creates a loop; NULL on failure (errno set). */
struct nts_loop *loop_create(void);
void loop_destroy(struct nts_loop *l);
/* Watches fd for events (EPOLLIN...), calling fn(arg, fd, events). 0 or -errno. */
int loop_add(struct nts_loop *l, int fd, uint32_t events, nts_io_fn fn, void *arg);
/* Changes the events of a watched fd. */
int loop_mod(struct nts_loop *l, int fd, uint32_t events);
/* Stops watching fd (does not close it); safe to call from inside any handler. */
int loop_del(struct nts_loop *l, int fd);
/* Calls fn every interval_ms (first call after interval_ms). 0 or -errno. */
int loop_add_tick(struct nts_loop *l, uint32_t interval_ms, nts_tick_fn fn, void *arg);
/* Calls fn after each batch of events (e.g. to flush sendmmsg batches). */
int loop_add_flush(struct nts_loop *l, nts_tick_fn fn, void *arg);
/* Runs until loop_stop(); returns 0 or -errno on an epoll failure. */
int loop_run(struct nts_loop *l);
/* Makes loop_run() return after the current iteration: events left in the batch are not
 * handled and ticks do not run, flush hooks do; async-signal-safe, and safe from another thread
 * (which then wakes the loop, e.g. through an eventfd it watches). */
void loop_stop(struct nts_loop *l);
/* Monotonic milliseconds, cached at the start of each iteration. */
uint64_t loop_now_ms(const struct nts_loop *l);
/* Monotonic clock now, in ms and ns (not cached). */
uint64_t nts_monotonic_ms(void);
uint64_t nts_monotonic_ns(void);

#endif
