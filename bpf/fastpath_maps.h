/* XDP fast path, maps: the BPF declarations of the maps whose keys, values and names
 * include/nts/fastpath_maps.h defines for both sides. Names are the pin names under the pin dir,
 * and each map keeps its BTF (bpftool map dump and ntsctl read the entries through it).
 */
#ifndef NTS_BPF_FASTPATH_MAPS_H
#define NTS_BPF_FASTPATH_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "nts/fastpath_maps.h"

/* max_entries below are defaults; the loader sets them from configuration before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_client_key);
	__type(value, struct nts_fp_client_val);
} nts_fp_client SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_peer_key);
	__type(value, struct nts_fp_peer_val);
} nts_fp_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_perm_key);
	__type(value, struct nts_fp_perm_val);
} nts_fp_perm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, struct nts_fp_relay_key);
	__type(value, struct nts_fp_relay_val);
} nts_fp_relay SEC(".maps");

/* Per CPU: each CPU counts into its own copy, without atomics or cache-line bouncing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, __u64);
	__type(value, struct nts_fp_alloc_counters);
} nts_fp_alloc SEC(".maps");

/* In front of it: the direct-mapped slots most allocations count in (include/nts/fastpath_maps.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NTS_FP_ALLOC_DIRECT_SLOTS);
	__type(key, __u32);
	__type(value, struct nts_fp_alloc_direct_val);
} nts_fp_alloc_direct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nts_fp_stats);
} nts_fp_stats SEC(".maps");

/* Interfaces forwarded packets may leave by (other than the arrival one): ifindex -> ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, NTS_FP_TX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} nts_fp_tx SEC(".maps");

/* Bandwidth limits: ARRAYs indexed by the slots the entries carry (their lookups are inlined),
 * plain rather than per-CPU (a bpf_spin_lock needs shared values), sized like the relay map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, __u32);
	__type(value, struct nts_fp_limit_val);
} nts_fp_alloc_limit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, __u32);
	__type(value, struct nts_fp_account_val);
} nts_fp_account_limit SEC(".maps");

/* Each CPU's debts to those buckets (include/nts/fastpath_maps.h, struct nts_fp_debt). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NTS_FP_DEBT_SLOTS);
	__type(key, __u32);
	__type(value, struct nts_fp_debt);
} nts_fp_limit_debt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NTS_FP_DEBT_SLOTS);
	__type(key, __u32);
	__type(value, struct nts_fp_debt);
} nts_fp_account_debt SEC(".maps");

/* The channel caches and their epoch (include/nts/fastpath_maps.h, "The channel caches"). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NTS_FP_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct nts_fp_client_cached);
} nts_fp_client_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NTS_FP_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct nts_fp_peer_cached);
} nts_fp_peer_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} nts_fp_epoch SEC(".maps");

/* The program's clock (bpf/fastpath_clock.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nts_fp_clock);
} nts_fp_clock SEC(".maps");

#endif /* NTS_BPF_FASTPATH_MAPS_H */
