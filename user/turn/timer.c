/* The timer wheel: 1 s slots, O(1) arm/cancel, a tick touches only the slots that came due.
 * Lifetimes here are at most 3600 s + a cooldown, shorter than the wheel, so every entry fires in
 * the first tick after its second; longer ones would just wait for their lap (due_s is checked).
 */
#include <string.h>

#include "turn/turn_internal.h"

void turn_wheel_init(struct turn_wheel *w, uint64_t now_ms)
{
	memset(w->slot, 0, sizeof(w->slot));
	w->cur_s = now_ms / 1000;
}

static void turn_timer_link(struct turn_timer **head, struct turn_timer *tm)
{
	tm->next = *head;
	if (*head)
		(*head)->pprev = &tm->next;
	*head = tm;
	tm->pprev = head;
}

void turn_timer_cancel(struct turn_timer *tm)
{
	if (!tm->pprev)
		return;
	*tm->pprev = tm->next;
	if (tm->next)
		tm->next->pprev = tm->pprev;
	tm->next = NULL;
	tm->pprev = NULL;
}

void turn_timer_arm(struct turn_wheel *w, struct turn_timer *tm, uint64_t due_ms)
{
	uint64_t due_s = (due_ms + 999) / 1000;

	turn_timer_cancel(tm);
	tm->due_s = due_s;
	if (due_s <= w->cur_s)
		due_s = w->cur_s + 1;
	turn_timer_link(&w->slot[due_s & (TURN_WHEEL_SLOTS - 1)], tm);
}

void turn_wheel_advance(struct turn_wheel *w, uint64_t now_ms,
			void (*fire)(void *arg, struct turn_timer *tm), void *arg)
{
	uint64_t now_s = now_ms / 1000;
	uint64_t steps;

	if (now_s <= w->cur_s)
		return;
	steps = now_s - w->cur_s;
	if (steps > TURN_WHEEL_SLOTS)
		steps = TURN_WHEEL_SLOTS;
	for (uint64_t i = 1; i <= steps; i++) {
		struct turn_timer **slot = &w->slot[(w->cur_s + i) & (TURN_WHEEL_SLOTS - 1)];
		struct turn_timer *pending = *slot;

		/* Detach the slot so callbacks may arm or cancel any timer while we walk it. */
		*slot = NULL;
		if (pending)
			pending->pprev = &pending;
		while (pending) {
			struct turn_timer *tm = pending;

			turn_timer_cancel(tm);
			if (tm->due_s <= now_s) {
				fire(arg, tm);
			} else {
				/* A later lap: keep it in its slot. */
				turn_timer_link(&w->slot[tm->due_s & (TURN_WHEEL_SLOTS - 1)], tm);
			}
		}
	}
	w->cur_s = now_s;
}
