/* The TURN server object: creation on the loop, hooks, the 1 s tick (timer wheel + usage reports),
 * the clock, and dispatch of timer expiries to their owners.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth/ratelimit.h"
#include "turn/policy.h"
#include "turn/tcp_relay.h"
#include "util/log.h"

uint64_t turn_unix_now(void)
{
	return (uint64_t)time(NULL);
}

uint64_t turn_now_ms(struct turn_server *t)
{
	uint64_t l = loop_now_ms(t->loop);

	if (l > t->now_ms)
		t->now_ms = l;
	return t->now_ms;
}

static void turn_timer_fire(void *arg, struct turn_timer *tm)
{
	struct turn_server *t = arg;

	switch (tm->kind) {
	case TURN_T_ALLOC:
		turn_alloc_delete(t, turn_container_of(tm, struct turn_alloc, timer), true);
		break;
	case TURN_T_PERM:
		turn_perm_expired(t, turn_container_of(tm, struct turn_perm, timer));
		break;
	case TURN_T_CHAN:
	case TURN_T_CHAN_COOL:
		turn_chan_expired(t, turn_container_of(tm, struct turn_chan, timer));
		break;
	case TURN_T_RESV:
		turn_resv_expired(t, turn_container_of(tm, struct turn_resv, timer));
		break;
	case TURN_T_TCP:
		turn_tcp_timer_expired(t, tm);
		break;
	}
}

void turn_tick(struct turn_server *t, uint64_t now_ms)
{
	if (now_ms > t->now_ms)
		t->now_ms = now_ms;
	turn_wheel_advance(t->wheel, t->now_ms, turn_timer_fire, t);
	turn_report_usage(t);
	if (t->shared) /* the workers' reservations: whichever ticks first closes them */
		turn_shared_resv_expire(t->shared, nts_monotonic_ms());
}

static void turn_tick_cb(void *arg, uint64_t now_ms)
{
	turn_tick(arg, now_ms);
}

static void turn_flush_cb(void *arg, uint64_t now_ms)
{
	turn_relay_flush(arg);
}

bool turn_policy_denies(struct turn_server *t, const struct nts_addr *peer)
{
	return !turn_policy_allows(t->policy, peer);
}

/* Appends a configured address (not the wildcard) to hosts as a full-length entry. */
static void turn_host_add(struct nts_cidr *hosts, unsigned *n, const struct nts_addr *a)
{
	if ((a->family != AF_INET && a->family != AF_INET6) || nts_addr_is_any(a))
		return;
	hosts[*n].base = *a;
	hosts[*n].base.port = 0;
	hosts[*n].prefix = (uint8_t)(nts_addr_iplen(a) * 8);
	(*n)++;
}

int turn_set_host_addrs(struct turn_server *t, const struct nts_cidr *ifaddrs, unsigned n)
{
	const struct nts_config *cfg = t->cfg;
	unsigned max = n + 2 * NTS_MAX_LISTEN + 2 + 2 + 1, nh = 0;
	struct nts_cidr *hosts = calloc(max, sizeof(*hosts));
	int rc;

	if (!hosts)
		return -ENOMEM;
	if (n)
		memcpy(hosts, ifaddrs, n * sizeof(*hosts));
	nh = n;
	/* --external-ip may be a NAT's address, on no interface of this host, yet it is ours. */
	for (unsigned i = 0; i < cfg->nlisten && i < NTS_MAX_LISTEN; i++)
		turn_host_add(hosts, &nh, &cfg->listen[i]);
	for (unsigned i = 0; i < cfg->ntls_listen && i < NTS_MAX_LISTEN; i++)
		turn_host_add(hosts, &nh, &cfg->tls_listen[i]);
	for (unsigned i = 0; i < cfg->nrelay_ip && i < 2; i++)
		turn_host_add(hosts, &nh, &cfg->relay_ip[i]);
	for (unsigned i = 0; i < cfg->nexternal_ip && i < 2; i++)
		turn_host_add(hosts, &nh, &cfg->external_ip[i]);
	if (!cfg->api_off)
		turn_host_add(hosts, &nh, &cfg->api_listen);
	rc = turn_policy_set_host_addrs(t->policy, hosts, nh);
	free(hosts);
	if (rc)
		return rc;
	turn_drop_denied_peers(t);
	return 0;
}

int turn_set_peer_rules(struct turn_server *t, const struct nts_cidr *allow, unsigned nallow,
			const struct nts_cidr *deny, unsigned ndeny)
{
	int rc = turn_policy_set_rules(t->policy, allow, nallow, deny, ndeny);

	if (rc)
		return rc;
	turn_drop_denied_peers(t);
	return 0;
}

bool turn_peer_allowed(struct turn_server *t, const struct nts_addr *peer)
{
	struct nts_addr checked = *peer;

	/* Port 0: a permission, which ignores the port (RFC 8656 §9); as CreatePermission. */
	if (!checked.port)
		checked.port = 9;
	return !turn_policy_denies(t, &checked);
}

static int turn_tables_init(struct turn_server *t)
{
	struct turn_htab *tabs[] = {&t->by_5tuple, &t->by_stream, &t->by_id,	 &t->by_relay,
				    &t->perms,	   &t->chan_num,  &t->chan_peer, &t->resv,
				    &t->users,	   &t->tcp_conns, &t->accounts};

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		if (turn_htab_init(tabs[i]) < 0)
			return -ENOMEM;
	return 0;
}

static void turn_tables_free(struct turn_server *t)
{
	struct turn_htab *tabs[] = {&t->by_5tuple, &t->by_stream, &t->by_id,	 &t->by_relay,
				    &t->perms,	   &t->chan_num,  &t->chan_peer, &t->resv,
				    &t->users,	   &t->tcp_conns, &t->accounts};

	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		turn_htab_free(tabs[i]);
}

struct turn_server *turn_create(struct nts_loop *loop, const struct nts_config *cfg,
				struct auth_ctx *auth, struct nts_stats *stats,
				nts_client_send_fn send, void *send_arg)
{
	struct turn_server *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = loop;
	t->cfg = cfg;
	t->auth = auth;
	t->stats = stats;
	t->send = send;
	t->send_arg = send_arg;
	t->next_id = 1;
	t->id_stride = 1;
	turn_list_init(&t->allocs);
	turn_list_init(&t->dirty);
	turn_list_init(&t->tcp_list);
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = nts_monotonic_ns() ^ (uint64_t)getpid() << 32;
	t->now_ms = loop_now_ms(loop);
	t->wheel = malloc(sizeof(*t->wheel));
	t->tx = calloc(1, sizeof(*t->tx));
	t->rx = calloc(1, sizeof(*t->rx));
	t->scratch = malloc(STUN_HEADER_LEN + 64 + 65536);
	if (!t->wheel || !t->tx || !t->rx || !t->scratch || turn_tables_init(t) < 0)
		goto fail;
	turn_wheel_init(t->wheel, t->now_ms);
	t->tx->fd = -1;
	if (turn_policy_create(&t->policy, cfg->allow_peer, cfg->nallow_peer, cfg->deny_peer,
			       cfg->ndeny_peer) < 0 ||
	    turn_set_host_addrs(t, NULL, 0) < 0)
		goto fail;
	t->rl = ratelimit_create(cfg->unauth_rate, 0, 0, 0);
	if (!t->rl)
		goto fail;
	if (loop_add_tick(loop, 1000, turn_tick_cb, t) < 0 ||
	    loop_add_flush(loop, turn_flush_cb, t) < 0)
		goto fail;
	return t;
fail:
	log_error("turn: cannot create the server");
	turn_destroy(t);
	return NULL;
}

void turn_destroy(struct turn_server *t)
{
	if (!t)
		return;
	if (t->tx)
		turn_relay_flush(t);
	while (!turn_list_empty(&t->allocs)) {
		struct turn_alloc *a = turn_container_of(t->allocs.next, struct turn_alloc, link);

		turn_alloc_delete(t, a, false);
	}
	if (t->tcp_list.next)
		turn_tcp_free_all(t);
	if (t->resv.b)
		turn_resv_free_all(t);
	turn_accounts_free(t);
	turn_tables_free(t);
	if (t->policy)
		turn_policy_destroy(t->policy);
	if (t->rl)
		ratelimit_destroy(t->rl);
	free(t->wheel);
	free(t->tx);
	free(t->rx);
	free(t->scratch);
	free(t);
}

void turn_set_hooks(struct turn_server *t, const struct turn_hooks *hooks, void *arg)
{
	if (hooks)
		t->hooks = *hooks;
	else
		memset(&t->hooks, 0, sizeof(t->hooks));
	t->hooks_arg = arg;
}

void turn_set_usage_hook(struct turn_server *t, turn_usage_fn usage, void *arg)
{
	t->usage = usage;
	t->usage_arg = arg;
}

void turn_set_stream_hooks(struct turn_server *t, const struct turn_stream_hooks *h, void *arg)
{
	if (h)
		t->shooks = *h;
	else
		memset(&t->shooks, 0, sizeof(t->shooks));
	t->shooks_arg = arg;
}
