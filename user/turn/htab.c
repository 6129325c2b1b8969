/* Seeded chained hash table with O(1) unlink, and the 64-bit mixer; see turn_internal.h. */
#include <errno.h>
#include <stdlib.h>

#include "turn/turn_internal.h"

#define TURN_HTAB_INITIAL 64

uint64_t turn_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

int turn_htab_init(struct turn_htab *h)
{
	h->b = calloc(TURN_HTAB_INITIAL, sizeof(*h->b));
	if (!h->b)
		return -ENOMEM;
	h->mask = TURN_HTAB_INITIAL - 1;
	h->n = 0;
	return 0;
}

void turn_htab_free(struct turn_htab *h)
{
	free(h->b);
	h->b = NULL;
}

static void turn_htab_link(struct turn_hnode **head, struct turn_hnode *node)
{
	node->next = *head;
	if (*head)
		(*head)->pprev = &node->next;
	*head = node;
	node->pprev = head;
}

static void turn_htab_grow(struct turn_htab *h)
{
	size_t nb = (h->mask + 1) * 2;
	struct turn_hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i <= h->mask; i++) {
		struct turn_hnode *n = h->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			turn_htab_link(&b[n->hash & (nb - 1)], n);
		}
	}
	free(h->b);
	h->b = b;
	h->mask = nb - 1;
}

void turn_htab_insert(struct turn_htab *h, struct turn_hnode *node, uint64_t hash)
{
	if (h->n > h->mask)
		turn_htab_grow(h);
	node->hash = hash;
	turn_htab_link(&h->b[hash & h->mask], node);
	h->n++;
}

void turn_htab_remove(struct turn_htab *h, struct turn_hnode *node)
{
	if (!node->pprev)
		return;
	*node->pprev = node->next;
	if (node->next)
		node->next->pprev = node->pprev;
	node->next = NULL;
	node->pprev = NULL;
	h->n--;
}
