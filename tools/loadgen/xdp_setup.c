/* `nts-loadgen xdp` set-up: loads the bench XDP objects, attaches the sink (peer) and the wire
 * ceiling (server), looks up devices in their namespaces and crafts one Ethernet frame per flow. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "stun/stun.h"
#include "xdp.h"

/* MAC, IPv4 address (network order, 0 if none) and ifindex of dev in namespace ns. */
int lg_dev_info(const char *ns, const char *dev, struct lg_dev *d)
{
	struct ifreq ifr;
	int fd, r = 0;

	memset(d, 0, sizeof(*d));
	if (!dev || lg_netns_enter(ns) < 0)
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	memcpy(d->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFADDR, &ifr) == 0)
		d->ip = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
	d->ifindex = (int)if_nametoindex(dev);
	d->ns = ns;
	d->name = dev;
out:
	close(fd);
	return r;
}

/* Opens and loads build/bpf/<name>.bpf.o from dir; returns the object or NULL. */
struct bpf_object *lg_bpf_load(const char *dir, const char *name, int *prog_fd)
{
	char path[512];
	struct bpf_object *obj;
	struct bpf_program *p;

	snprintf(path, sizeof(path), "%s/%s.bpf.o", dir, name);
	obj = bpf_object__open_file(path, NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "nts-loadgen: cannot open %s\n", path);
		return NULL;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "nts-loadgen: cannot load %s\n", path);
		bpf_object__close(obj);
		return NULL;
	}
	p = bpf_object__next_program(obj, NULL);
	*prog_fd = p ? bpf_program__fd(p) : -1;
	return obj;
}

int lg_map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

/* Attaches prog_fd natively to dev (in its namespace). */
int lg_xdp_attach(const struct lg_dev *d, int prog_fd)
{
	int r;

	if (lg_netns_enter(d->ns) < 0)
		return -ENODEV;
	r = bpf_xdp_attach(d->ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (r)
		fprintf(stderr, "nts-loadgen: attach to %s: %s\n", d->name, strerror(-r));
	return r;
}

void lg_xdp_detach(const struct lg_dev *d)
{
	if (d->ifindex && lg_netns_enter(d->ns) == 0)
		bpf_xdp_detach(d->ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

static uint16_t lg_ip_csum(const uint8_t *p)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void lg_put16be(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

/* Crafts an Ethernet/IPv4/UDP frame from (sip, sport) to (dip, dport) carrying, when channel is
 * nonzero, a ChannelData header, then the payload for flow (sequence and timestamp filled in by the
 * generator). Returns the frame length; *hdr_off is where struct bench_hdr starts. */
size_t lg_frame(uint8_t *f, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip,
		uint16_t sport, uint32_t dip, uint16_t dport, uint16_t channel, unsigned size,
		uint32_t flow, unsigned *hdr_off)
{
	unsigned cd = channel ? STUN_CHANNELDATA_HDR : 0, udp_len = 8 + cd + size;
	uint8_t *ip = f + 14, *udp = ip + 20, *pl = udp + 8 + cd;
	struct bench_hdr h = {BENCH_MAGIC_KERNEL, flow, 0, 0};

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	lg_put16be(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	lg_put16be(ip + 2, (uint16_t)(20 + udp_len));
	lg_put16be(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	lg_put16be(ip + 10, lg_ip_csum(ip));
	lg_put16be(udp, sport);
	lg_put16be(udp + 2, dport);
	lg_put16be(udp + 4, (uint16_t)udp_len);
	lg_put16be(udp + 6, 0); /* no checksum (RFC 768): the frames are rewritten in flight */
	if (cd)
		stun_channeldata_header(udp + 8, channel, (uint16_t)size, false);
	memcpy(pl, &h, sizeof(h));
	for (unsigned i = BENCH_HDR_LEN; i < size; i++)
		pl[i] = bench_pattern(i, 0);
	*hdr_off = (unsigned)(pl - f);
	return 14 + 20 + udp_len;
}
