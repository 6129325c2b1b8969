/* In-kernel generator mode of nts-loadgen: devices looked up in their namespaces, the bench XDP
 * objects (generator, sink, wire ceiling) and the crafted frames, shared by xdp_setup.c and xdp.c.
 * Frames are sent with BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES out of the client veth. */
#ifndef NTS_LOADGEN_XDP_H
#define NTS_LOADGEN_XDP_H

#include "lg.h"

struct bpf_object;

/* A network device seen from its namespace. */
struct lg_dev {
	const char *ns, *name;
	int ifindex;
	uint32_t ip; /* network order */
	uint8_t mac[6];
};

/* Looks dev up in namespace ns (entering it). 0 or -errno. */
int lg_dev_info(const char *ns, const char *dev, struct lg_dev *d);
/* Opens and loads <dir>/<name>.bpf.o; *prog_fd is its (only) program. NULL on failure. */
struct bpf_object *lg_bpf_load(const char *dir, const char *name, int *prog_fd);
/* File descriptor of map name in obj, or -ENOENT. */
int lg_map_fd(struct bpf_object *obj, const char *name);
/* Attaches / detaches an XDP program natively on d (entering its namespace). */
int lg_xdp_attach(const struct lg_dev *d, int prog_fd);
void lg_xdp_detach(const struct lg_dev *d);
/* Crafts one frame (see xdp_setup.c); returns its length and the payload header offset. */
size_t lg_frame(uint8_t *f, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip,
		uint16_t sport, uint32_t dip, uint16_t dport, uint16_t channel, unsigned size,
		uint32_t flow, unsigned *hdr_off);

#endif
