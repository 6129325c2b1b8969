/* Loads the XDP object (an installed file, or the copy in the bpftool skeleton) through libxdp and
 * pins its maps. See loader.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <xdp/libxdp.h>

/* bpftool embeds the BPF object as one string literal, longer than ISO C promises (4095). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "fastpath.skel.h"
#pragma GCC diagnostic pop
#include "fastpath/fastpath.h"
#include "fastpath/loader.h"

/* Reuses the map pinned under pin_dir, or has libbpf pin it there after creating it. Reuse goes
 * through the fd because libbpf's own check rejects the flags the kernel adds to a devmap. */
static int set_pin(struct bpf_map *map, const char *pin_dir)
{
	char path[512];
	int fd, rc;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map)) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return bpf_map__set_pin_path(map, path);
	rc = bpf_map__reuse_fd(map, fd);
	close(fd);
	return rc;
}

/* The skeleton over elf, an object file's bytes (kept by the caller until it is destroyed), or
 * over its built-in copy when elf is NULL. libbpf refuses a file that lacks one of the skeleton's
 * maps or programs; read-only data of another size would put nts_fp_generic elsewhere. */
static struct fastpath_bpf *skel_open_elf(const void *elf, size_t len)
{
	struct fastpath_bpf *skel;
	int rc;

	if (!elf)
		return fastpath_bpf__open();
	skel = calloc(1, sizeof(*skel));
	if (!skel)
		return NULL;
	rc = fastpath_bpf__create_skeleton(skel);
	if (!rc) {
		skel->skeleton->data = elf;
		skel->skeleton->data_sz = len;
		rc = bpf_object__open_skeleton(skel->skeleton, NULL);
	}
	if (!rc && bpf_map__value_size(skel->maps.rodata) != sizeof(*skel->rodata))
		rc = -EPROTO;
	if (rc) {
		fastpath_bpf__destroy(skel);
		/* -ESRCH: a map or program the file lacks; below -4000: libbpf's own "not an ELF
		 * file", "not a BPF object" and the like. */
		errno = rc == -ESRCH || rc <= -4000 ? EPROTO : -rc;
		return NULL;
	}
	return skel;
}

static struct fastpath_bpf *skel_open(const void *elf, size_t len, uint32_t channels,
				      uint32_t allocs, const char *pin_dir)
{
	struct fastpath_bpf *skel = skel_open_elf(elf, len);
	struct bpf_map *map;
	int rc = 0;

	if (!skel)
		return NULL;
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_client, channels);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_peer, channels);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_perm, channels);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_relay, allocs);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_alloc, allocs);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_alloc_limit, allocs);
	if (!rc)
		rc = bpf_map__set_max_entries(skel->maps.nts_fp_account_limit, allocs);
	if (pin_dir) {
		/* Not the .rodata map: each instance has its own (nts_fp_generic). */
		bpf_object__for_each_map(map, skel->obj)
		{
			if (!rc && !bpf_map__is_internal(map))
				rc = set_pin(map, pin_dir);
		}
	}
	if (rc) {
		fastpath_bpf__destroy(skel);
		errno = -rc;
		return NULL;
	}
	return skel;
}

struct fastpath_bpf *fastpath_skel_open(uint32_t channels, uint32_t allocs, const char *pin_dir)
{
	return skel_open(NULL, 0, channels, allocs, pin_dir);
}

/* The whole of an object file, at most 64 MiB, in *buf (freed by the caller). 0 or -errno. */
static int read_object(const char *path, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n = -1;
	int rc = 0;

	*buf = NULL;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n <= 0 || n > (64l << 20) || fseek(f, 0, SEEK_SET) != 0)
		rc = n < 0 ? -EIO : -EFBIG;
	else if (!(*buf = malloc((size_t)n)))
		rc = -ENOMEM;
	else if (fread(*buf, 1, (size_t)n, f) != (size_t)n)
		rc = -EIO;
	fclose(f);
	if (rc) {
		free(*buf);
		*buf = NULL;
	}
	*len = (size_t)n;
	return rc;
}

/* libbpf and libxdp narrate every fallback on stderr; ntsctl reports outcomes itself. Their
 * messages come back with NTS_BPF_VERBOSE=1 in the environment. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return getenv("NTS_BPF_VERBOSE") ? vfprintf(stderr, fmt, ap) : 0;
}

static int quiet_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return getenv("NTS_BPF_VERBOSE") ? vfprintf(stderr, fmt, ap) : 0;
}

static void quiet(void)
{
	libbpf_set_print(quiet_libbpf);
	libxdp_set_print(quiet_libxdp);
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int fastpath_bpffs_ensure(const char *pin_dir)
{
	/* libxdp pins its dispatcher under /sys/fs/bpf/xdp, so that one must be bpffs too. */
	if (!is_bpffs("/sys/fs/bpf") && mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return -errno;
	return is_bpffs(pin_dir) ? 0 : -ENOTDIR;
}

static const char *mode_name(enum xdp_attach_mode m)
{
	switch (m) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "skb";
	case XDP_MODE_HW:
		return "hw";
	default:
		return "unknown";
	}
}

const char *fastpath_legacy_reason(void)
{
	/* An extension program without a target: a kernel that allows them answers -EINVAL from
	 * the verifier ("Tracing programs must provide btf_id"); a policy refuses it up front. */
	const struct bpf_insn ret0[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_EXT, NULL, "GPL", ret0, 2, NULL);

	if (fd >= 0)
		close(fd);
	else if (errno == EPERM)
		return "the kernel refuses freplace (BPF_PROG_TYPE_EXT) programs with EPERM, "
		       "which the dispatcher chains programs with";
	return "libxdp could not load its dispatcher (NTS_BPF_VERBOSE=1 LIBXDP_DEBUG=1 tell why)";
}

int fastpath_attached_info(int ifindex, struct fastpath_attach_info *info)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL;
	int rc = -ENOENT;

	quiet();
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->ifindex = ifindex;
	if (!if_indextoname(ifindex, info->ifname))
		snprintf(info->ifname, sizeof(info->ifname), "#%d", ifindex);
	info->legacy = xdp_multiprog__is_legacy(mp);
	info->mode = mode_name(xdp_multiprog__attach_mode(mp));
	if (info->legacy) {
		p = xdp_multiprog__main_prog(mp);
		if (p && strcmp(xdp_program__name(p), NTS_FP_PROG_NAME) == 0) {
			info->prog_id = xdp_program__id(p);
			rc = 0;
		}
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp))) {
			if (strcmp(xdp_program__name(p), NTS_FP_PROG_NAME) == 0) {
				info->prog_id = xdp_program__id(p);
				rc = 0;
				break;
			}
		}
	}
	xdp_multiprog__close(mp);
	return rc;
}

/* Sizes of maps already pinned under pin_dir, so that a second attach reuses them. */
static void pinned_sizes(const char *pin_dir, uint32_t *channels, uint32_t *allocs)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NTS_FP_MAP_CLIENT);
	fd = bpf_obj_get(path);
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		*channels = info.max_entries;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, NTS_FP_MAP_ALLOC);
	fd = bpf_obj_get(path);
	len = sizeof(info);
	if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		*allocs = info.max_entries;
	if (fd >= 0)
		close(fd);
}

int fastpath_attach(const char *pin_dir, const char *ifname, bool skb_mode, uint32_t channels,
		    uint32_t allocs, struct fastpath_attach_info *info, char *err, size_t errlen)
{
	return fastpath_attach_file(NULL, pin_dir, ifname, skb_mode, channels, allocs, info, err,
				    errlen);
}

int fastpath_attach_file(const char *obj_path, const char *pin_dir, const char *ifname,
			 bool skb_mode, uint32_t channels, uint32_t allocs,
			 struct fastpath_attach_info *info, char *err, size_t errlen)
{
	int ifindex = if_nametoindex(ifname);
	struct fastpath_bpf *skel = NULL;
	struct xdp_program *prog = NULL;
	void *elf = NULL;
	size_t elf_len = 0;
	uint32_t idx;
	int rc;

	quiet();
	if (!ifindex) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	if (fastpath_attached_info(ifindex, info) == 0) {
		snprintf(err, errlen, "the fast path is already attached to %s (program %u)",
			 ifname, info->prog_id);
		return -EEXIST;
	}
	rc = fastpath_bpffs_ensure(pin_dir);
	if (rc) {
		snprintf(err, errlen, "%s is not on a bpffs: %s", pin_dir, strerror(-rc));
		return rc;
	}
	if (obj_path && (rc = read_object(obj_path, &elf, &elf_len))) {
		snprintf(err, errlen, "cannot read %s: %s", obj_path, strerror(-rc));
		return rc;
	}
	pinned_sizes(pin_dir, &channels, &allocs);
	skel = skel_open(elf, elf_len, channels, allocs, pin_dir);
	if (!skel) {
		rc = -errno;
		if (obj_path && rc == -EPROTO)
			snprintf(err, errlen,
				 "%s is not the XDP program this ntsctl was built with "
				 "(its maps or program differ)",
				 obj_path);
		else
			snprintf(err, errlen, "cannot open the BPF object %s: %s",
				 obj_path ? obj_path : "built into ntsctl", strerror(-rc));
		free(elf);
		return rc;
	}
	/* Generic XDP sees skbs after GRO: peer datagrams stay out of the kernel relay. */
	skel->rodata->nts_fp_generic = skb_mode;
	prog = xdp_program__from_bpf_obj(skel->obj, "xdp");
	rc = libxdp_get_error(prog);
	if (rc) {
		prog = NULL;
		snprintf(err, errlen, "libxdp cannot use the BPF object: %s", strerror(-rc));
		goto out;
	}
	rc = xdp_program__attach(prog, ifindex, skb_mode ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
	if (rc) {
		snprintf(err, errlen, "cannot attach to %s in %s mode: %s", ifname,
			 skb_mode ? "skb" : "native", strerror(-rc));
		goto out;
	}
	/* Forwarded packets may leave by this interface when they arrive on another one. */
	idx = ifindex;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.nts_fp_tx), &idx, &idx, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "cannot add %s to the devmap: %s", ifname, strerror(-rc));
		xdp_program__detach(prog, ifindex, skb_mode ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
		goto out;
	}
	rc = fastpath_attached_info(ifindex, info);
	if (rc)
		snprintf(err, errlen, "attached, but cannot find the program on %s", ifname);
	info->channels = channels;
out:
	xdp_program__close(prog);
	fastpath_bpf__destroy(skel);
	free(elf);
	return rc;
}

int fastpath_detach(const char *pin_dir, const char *ifname, char *err, size_t errlen)
{
	int ifindex = if_nametoindex(ifname);
	struct xdp_multiprog *mp;
	struct xdp_program *p = NULL;
	char path[512];
	int rc = -ENOENT, fd;
	uint32_t idx;

	quiet();
	if (!ifindex) {
		snprintf(err, errlen, "no interface %s", ifname);
		return -ENODEV;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!libxdp_get_error(mp)) {
		enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);

		if (xdp_multiprog__is_legacy(mp)) {
			p = xdp_multiprog__main_prog(mp);
			if (p && strcmp(xdp_program__name(p), NTS_FP_PROG_NAME) == 0)
				rc = xdp_program__detach(p, ifindex, mode, 0);
		} else {
			while ((p = xdp_multiprog__next_prog(p, mp)))
				if (strcmp(xdp_program__name(p), NTS_FP_PROG_NAME) == 0)
					break;
			if (p)
				rc = xdp_program__detach(p, ifindex, mode, 0);
		}
		xdp_multiprog__close(mp);
	}
	if (rc == -ENOENT)
		snprintf(err, errlen, "the fast path is not attached to %s", ifname);
	else if (rc)
		snprintf(err, errlen, "cannot detach from %s: %s", ifname, strerror(-rc));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, NTS_FP_MAP_TX);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		idx = ifindex;
		bpf_map_delete_elem(fd, &idx);
		close(fd);
	}
	return rc;
}

int fastpath_foreach_port(const char *pin_dir, int (*fn)(void *arg, int ifindex), void *arg)
{
	uint32_t key, next;
	char path[512];
	void *prev = NULL;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NTS_FP_MAP_TX);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	for (int n = 0; n < NTS_FP_TX_PORTS && bpf_map_get_next_key(fd, prev, &next) == 0; n++) {
		key = next;
		prev = &key;
		rc = fn(arg, (int)key);
		if (rc)
			break;
	}
	close(fd);
	return rc;
}
