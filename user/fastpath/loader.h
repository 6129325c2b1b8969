/* Loading the XDP fast path onto an interface with libxdp (multiprog dispatcher when the kernel
 * allows, legacy single program otherwise), pinning its maps under a bpffs folder, and removing it.
 * Used by ntsctl attach/detach/status; ntsd itself only opens the pinned maps (fastpath.h).
 */
#ifndef NTS_FASTPATH_LOADER_H
#define NTS_FASTPATH_LOADER_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fastpath_bpf; /* the bpftool skeleton (build/bpf/fastpath.skel.h) */

/* Opens the embedded BPF object with its maps sized (channels: client, peer and permission maps;
 * allocs: relay and per-allocation maps) and, if pin_dir is set, pinned/reused there. Not loaded.
 */
struct fastpath_bpf *fastpath_skel_open(uint32_t channels, uint32_t allocs, const char *pin_dir);

/* Makes sure pin_dir exists on a bpffs (mounting bpffs on /sys/fs/bpf if missing). 0 or -errno. */
int fastpath_bpffs_ensure(const char *pin_dir);

struct fastpath_attach_info {
	char ifname[IF_NAMESIZE];
	int ifindex;
	uint32_t prog_id;
	const char *mode;  /* "native", "skb", "hw" or "unknown" */
	bool legacy;	   /* attached without the libxdp dispatcher */
	uint32_t channels; /* map size in use */
};

/* Loads and attaches the fast path on ifname (skb_mode: generic XDP), pinning maps under pin_dir
 * (an existing set of pins is reused, keeping its size). 0 or -errno with err filled. */
int fastpath_attach(const char *pin_dir, const char *ifname, bool skb_mode, uint32_t channels,
		    uint32_t allocs, struct fastpath_attach_info *info, char *err, size_t errlen);
/* fastpath_attach() with the program read from the object file obj_path (NULL: the copy built
 * in). A file whose maps, program or read-only data differ from the skeleton's is refused. */
int fastpath_attach_file(const char *obj_path, const char *pin_dir, const char *ifname,
			 bool skb_mode, uint32_t channels, uint32_t allocs,
			 struct fastpath_attach_info *info, char *err, size_t errlen);
/* Detaches the fast path from ifname; maps stay pinned. 0 or -errno with err filled. */
int fastpath_detach(const char *pin_dir, const char *ifname, char *err, size_t errlen);
/* Describes the fast path on ifindex: 0, or -ENOENT when it is not attached there. */
int fastpath_attached_info(int ifindex, struct fastpath_attach_info *info);
/* Why libxdp's multiprog dispatcher is not in use when an attach ended up legacy (probed:
 * whether the kernel loads freplace programs, which the dispatcher chains programs with). */
const char *fastpath_legacy_reason(void);
/* Calls fn for every interface in the pinned devmap (the interfaces attach added). 0 or -errno. */
int fastpath_foreach_port(const char *pin_dir, int (*fn)(void *arg, int ifindex), void *arg);

#endif
