/* epoll event loop; see loop.h. */
#include "util/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_TICKS 32
#define LOOP_MAX_FLUSH 16
#define LOOP_BATCH 64

struct loop_handler {
	int fd;
	nts_io_fn fn;
	void *arg;
	bool live;
};

struct loop_tick {
	uint32_t interval;
	uint64_t next;
	nts_tick_fn fn;
	void *arg;
};

struct nts_loop {
	int epfd;
	atomic_int stop; /* lock-free: set from signal handlers and other threads */
	uint64_t now;
	struct loop_handler **by_fd; /* indexed by fd */
	int nfds;
	struct loop_tick ticks[LOOP_MAX_TICKS];
	unsigned nticks;
	struct loop_tick flush[LOOP_MAX_FLUSH];
	unsigned nflush;
};

uint64_t nts_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t nts_monotonic_ms(void)
{
	return nts_monotonic_ns() / 1000000ULL;
}

struct nts_loop *loop_create(void)
{
	struct nts_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->now = nts_monotonic_ms();
	return l;
}

void loop_destroy(struct nts_loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->nfds; i++)
		free(l->by_fd[i]);
	free(l->by_fd);
	close(l->epfd);
	free(l);
}

static int loop_grow(struct nts_loop *l, int fd)
{
	int n = l->nfds ? l->nfds : 64;
	struct loop_handler **p;

	while (n <= fd)
		n *= 2;
	p = realloc(l->by_fd, (size_t)n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*p));
	l->by_fd = p;
	l->nfds = n;
	return 0;
}

int loop_add(struct nts_loop *l, int fd, uint32_t events, nts_io_fn fn, void *arg)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	struct loop_handler *h;

	if (fd < 0)
		return -EBADF;
	if (fd >= l->nfds && loop_grow(l, fd) < 0)
		return -ENOMEM;
	h = l->by_fd[fd];
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->by_fd[fd] = h;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*h = (struct loop_handler){.fd = fd, .fn = fn, .arg = arg, .live = true};
	return 0;
}

int loop_mod(struct nts_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_del(struct nts_loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->by_fd[fd] || !l->by_fd[fd]->live)
		return -ENOENT;
	l->by_fd[fd]->live = false;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return 0;
}

int loop_add_tick(struct nts_loop *l, uint32_t interval_ms, nts_tick_fn fn, void *arg)
{
	if (l->nticks >= LOOP_MAX_TICKS || !interval_ms)
		return -ENOSPC;
	l->ticks[l->nticks++] = (struct loop_tick){.interval = interval_ms,
						   .next = nts_monotonic_ms() + interval_ms,
						   .fn = fn,
						   .arg = arg};
	return 0;
}

int loop_add_flush(struct nts_loop *l, nts_tick_fn fn, void *arg)
{
	if (l->nflush >= LOOP_MAX_FLUSH)
		return -ENOSPC;
	l->flush[l->nflush++] = (struct loop_tick){.fn = fn, .arg = arg};
	return 0;
}

void loop_stop(struct nts_loop *l)
{
	atomic_store_explicit(&l->stop, 1, memory_order_relaxed);
}

static bool loop_stopped(struct nts_loop *l)
{
	return atomic_load_explicit(&l->stop, memory_order_relaxed) != 0;
}

uint64_t loop_now_ms(const struct nts_loop *l)
{
	return l->now;
}

static int loop_timeout(const struct nts_loop *l)
{
	uint64_t soonest = UINT64_MAX;

	for (unsigned i = 0; i < l->nticks; i++)
		if (l->ticks[i].next < soonest)
			soonest = l->ticks[i].next;
	if (soonest == UINT64_MAX)
		return 1000;
	if (soonest <= l->now)
		return 0;
	return (int)(soonest - l->now > 1000 ? 1000 : soonest - l->now);
}

static void loop_run_ticks(struct nts_loop *l)
{
	for (unsigned i = 0; i < l->nticks; i++) {
		struct loop_tick *t = &l->ticks[i];
		if (t->next > l->now)
			continue;
		t->next = l->now + t->interval;
		t->fn(t->arg, l->now);
	}
}

int loop_run(struct nts_loop *l)
{
	struct epoll_event evs[LOOP_BATCH];

	while (!loop_stopped(l)) {
		int n = epoll_wait(l->epfd, evs, LOOP_BATCH, loop_timeout(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = nts_monotonic_ms();
		/* Once stopped, nothing more is read (an upgrade handed the sockets over): what is
		 * queued still leaves through the flush hooks, and no tick changes state. */
		for (int i = 0; i < n && !loop_stopped(l); i++) {
			int fd = evs[i].data.fd;
			struct loop_handler *h = fd < l->nfds ? l->by_fd[fd] : NULL;
			if (h && h->live)
				h->fn(h->arg, fd, evs[i].events);
		}
		for (unsigned i = 0; i < l->nflush; i++)
			l->flush[i].fn(l->flush[i].arg, l->now);
		if (!loop_stopped(l))
			loop_run_ticks(l);
	}
	return 0;
}
