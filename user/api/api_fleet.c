/* The fleet's commands over a store (ntsd's control socket and ntsctl --db give the same
 * answers): the node registry with each node's liveness, and signing-secret rotation; see
 * docs/fleet.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

/* A node's state as operators see it: a node that stopped heartbeating without saying so is
 * dead. */
static const char *api_fleet_state(const struct store_node *n, int64_t now)
{
	if (n->state != STORE_NODE_STOPPED && now - n->heartbeat_at > API_FLEET_DEAD_AFTER)
		return "dead";
	return store_node_state_name(n->state);
}

struct api_fleet_list {
	json_t *nodes;
	int64_t now;
};

static int api_fleet_one(void *arg, const struct store_node *n)
{
	struct api_fleet_list *l = arg;
	const char *state = api_fleet_state(n, l->now);
	/* A node that is gone was up until its last heartbeat. */
	bool gone = !strcmp(state, "dead") || n->state == STORE_NODE_STOPPED;
	int64_t up = (gone ? n->heartbeat_at : l->now) - n->started_at;

	return json_array_append_new(
	    l->nodes,
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}", "name",
		      n->name, "region", n->region, "state", state, "addresses", n->addresses,
		      "capacity", (json_int_t)n->capacity, "allocations",
		      (json_int_t)n->allocations, "pps_user", (json_int_t)n->pps_user, "pps_kernel",
		      (json_int_t)n->pps_kernel, "version", n->version, "started_at",
		      (json_int_t)n->started_at, "heartbeat_at", (json_int_t)n->heartbeat_at,
		      "uptime", (json_int_t)(up > 0 ? up : 0)));
}

json_t *api_cmd_fleet(struct nts_store *st, json_t *args, int64_t now, char *err, size_t errlen)
{
	struct api_fleet_list l = {.nodes = json_array(), .now = now};
	int rc;

	if (!l.nodes) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = store_node_foreach(st, api_fleet_one, &l);
	if (rc) {
		json_decref(l.nodes);
		snprintf(err, errlen, "cannot read the node registry: %s", strerror(-rc));
		return NULL;
	}
	return json_pack("{s:I, s:o}", "now", (json_int_t)now, "nodes", l.nodes);
}

static int api_secret_one(void *arg, const struct store_signing_secret *k)
{
	return json_array_append_new(arg, json_pack("{s:I, s:I, s:I}", "id", (json_int_t)k->id,
						    "activates_at", (json_int_t)k->activates_at,
						    "retires_at", (json_int_t)k->retires_at));
}

json_t *api_cmd_secret_rotate(struct nts_store *st, json_t *args, int64_t now, char *err,
			      size_t errlen)
{
	json_t *v = json_is_object(args) ? json_object_get(args, "overlap") : NULL;
	json_int_t overlap = API_SECRET_OVERLAP_DEFAULT;
	struct store_signing_secret k;
	json_t *list;
	int rc;

	if (v && !json_is_integer(v)) {
		snprintf(err, errlen, "overlap must be a number of seconds");
		return NULL;
	}
	if (v)
		overlap = json_integer_value(v);
	if (overlap < API_SECRET_OVERLAP_MIN || overlap > API_TTL_MAX) {
		snprintf(err, errlen,
			 "overlap must be %ds..%ds: every node must load the new secret before "
			 "any signs with it",
			 API_SECRET_OVERLAP_MIN, API_TTL_MAX);
		return NULL;
	}
	rc = store_signing_secret_rotate(st, now, now + overlap, API_TTL_MAX, &k);
	if (rc) {
		snprintf(err, errlen, "cannot rotate the signing secret: %s", strerror(-rc));
		return NULL;
	}
	memset(k.secret, 0, sizeof(k.secret));
	list = json_array();
	if (list && store_signing_secret_foreach(st, api_secret_one, list) != 0) {
		json_decref(list);
		list = NULL;
	}
	return json_pack("{s:I, s:I, s:o*}", "id", (json_int_t)k.id, "activates_at",
			 (json_int_t)k.activates_at, "secrets", list);
}
