/* nts-loadgen: TURN relay load generator for `make bench`. Subcommands: relay (userspace
 * ChannelData both ways at a fixed rate, full payload checks), xdp (in-kernel generator + XDP sink:
 * rate search, CPU per packet, latency), clients (userspace clients over UDP, TCP or TLS + XDP
 * sink: the same figures), alloc (allocation set-up rate, RSS per allocation), api (token API
 * req/s). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "auth/auth.h"
#include "lg.h"

static void lg_usage(FILE *f)
{
	fputs("usage: nts-loadgen relay|xdp|clients|alloc|api [options]\n"
	      "  --client-ns NS --server-ns NS --peer-ns NS   namespaces of the three roles\n"
	      "  --server IP:PORT      TURN server (relay, xdp turn, alloc) or HTTP API (api)\n"
	      "  --client-ip IP        local address of client sockets\n"
	      "  --client-ips N        clients use N consecutive addresses from --client-ip\n"
	      "  --transport T         relay, clients, alloc: udp (default), tcp or tls\n"
	      "  --peer IP:PORT        first peer address; flow i uses PORT+i\n"
	      "  --secret S --realm R --account ID   ephemeral credentials <expiry>:<ID>\n"
	      "  --allocs N            allocations / flows (default 4)\n"
	      "  --size B              payload bytes, 32..1400 (default 100)\n"
	      "  --rate PPS            offered packets/s per direction (relay: 0 = flat out; xdp "
	      "fixed run)\n"
	      "  --duration S          measured seconds (default 2)\n"
	      "  --window N            allocations in flight during set-up (default 64)\n"
	      "  --rss-pid PID         alloc: server process whose VmRSS is sampled\n"
	      "  --no-reverse          relay: client -> peer only\n"
	      "  --mode turn|routed|ceiling  xdp: path under test (default turn)\n"
	      "  --client-dev D --server-dev D --server-out-dev D --peer-dev D   veths (xdp)\n"
	      "  --bpf-dir DIR         where bench_*.bpf.o live (default: next to the binary)\n"
	      "  --search-step S       xdp: seconds per rate-search step (0: fixed rate only)\n"
	      "  --max-rate PPS        xdp: upper bound of the search (default 4000000)\n"
	      "  --batch N             frames per BPF_PROG_RUN call (xdp) or per write (clients:\n"
	      "                        one TLS record, or a sendmmsg), default 64\n"
	      "  --cpu-pids P,P        xdp: relay processes whose CPU time is charged to the "
	      "packets\n"
	      "  --path P --auth USER:PASS --body B --conns N   api: POST target and concurrency\n",
	      f);
}

static int lg_parse_addr(struct sockaddr_in *a, const char *s)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 0);
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static const struct option lg_longopts[] = {
    {"client-ns", 1, 0, 1},    {"server-ns", 1, 0, 2},
    {"peer-ns", 1, 0, 3},      {"server", 1, 0, 4},
    {"client-ip", 1, 0, 5},    {"peer", 1, 0, 6},
    {"secret", 1, 0, 7},       {"realm", 1, 0, 8},
    {"account", 1, 0, 9},      {"allocs", 1, 0, 10},
    {"size", 1, 0, 11},	       {"rate", 1, 0, 12},
    {"duration", 1, 0, 13},    {"window", 1, 0, 14},
    {"rss-pid", 1, 0, 15},     {"no-reverse", 0, 0, 16},
    {"mode", 1, 0, 17},	       {"client-dev", 1, 0, 18},
    {"server-dev", 1, 0, 19},  {"server-out-dev", 1, 0, 20},
    {"peer-dev", 1, 0, 21},    {"bpf-dir", 1, 0, 22},
    {"search-step", 1, 0, 23}, {"max-rate", 1, 0, 24},
    {"batch", 1, 0, 25},       {"path", 1, 0, 26},
    {"auth", 1, 0, 27},	       {"body", 1, 0, 28},
    {"conns", 1, 0, 29},       {"cpu-pids", 1, 0, 30},
    {"transport", 1, 0, 31},   {"client-ips", 1, 0, 32},
    {"help", 0, 0, 'h'},       {0, 0, 0, 0},
};

static int lg_parse(struct lg_opts *o, int argc, char **argv)
{
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "h", lg_longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			o->client_ns = optarg;
			break;
		case 2:
			o->server_ns = optarg;
			break;
		case 3:
			o->peer_ns = optarg;
			break;
		case 4:
			bad |= lg_parse_addr(&o->server, optarg);
			break;
		case 5:
			bad |= lg_parse_addr(&o->client_ip, optarg);
			break;
		case 6:
			bad |= lg_parse_addr(&o->peer, optarg);
			break;
		case 7:
			o->secret = optarg;
			break;
		case 8:
			o->realm = optarg;
			break;
		case 9:
			o->account = optarg;
			break;
		case 10:
			o->allocs = (unsigned)atoi(optarg);
			break;
		case 11:
			o->size = (unsigned)atoi(optarg);
			break;
		case 12:
			o->rate = atof(optarg);
			break;
		case 13:
			o->duration = atof(optarg);
			break;
		case 14:
			o->window = (unsigned)atoi(optarg);
			break;
		case 15:
			o->rss_pid = atoi(optarg);
			break;
		case 16:
			o->reverse = false;
			break;
		case 17:
			o->mode = optarg;
			break;
		case 18:
			o->client_dev = optarg;
			break;
		case 19:
			o->server_dev = optarg;
			break;
		case 20:
			o->server_out_dev = optarg;
			break;
		case 21:
			o->peer_dev = optarg;
			break;
		case 22:
			o->bpf_dir = optarg;
			break;
		case 23:
			o->search_step = atof(optarg);
			break;
		case 24:
			o->max_rate = atof(optarg);
			break;
		case 25:
			o->batch = (unsigned)atoi(optarg);
			break;
		case 26:
			o->url_path = optarg;
			break;
		case 27:
			o->basic_auth = optarg;
			break;
		case 28:
			o->body = optarg;
			break;
		case 29:
			o->conns = (unsigned)atoi(optarg);
			break;
		case 30:
			o->cpu_pids = optarg;
			break;
		case 31:
			o->transport = optarg;
			break;
		case 32:
			o->client_ips = (unsigned)atoi(optarg);
			break;
		case 'h':
			lg_usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (bad)
		fprintf(stderr, "nts-loadgen: bad address\n");
	if (o->allocs < 1 || o->allocs > LG_MAX_ALLOCS ||
	    o->size < BENCH_HDR_LEN + BENCH_TAIL_LEN || o->size > 1400 || o->duration <= 0 ||
	    o->duration > 120 || o->window < 1 || o->batch < 1 || o->batch > 4096 || o->conns < 1 ||
	    o->conns > 1024 || o->client_ips < 1 || o->client_ips > 256 ||
	    (strcmp(o->transport, "udp") && strcmp(o->transport, "tcp") &&
	     strcmp(o->transport, "tls"))) {
		fprintf(stderr, "nts-loadgen: option out of range\n");
		return -EINVAL;
	}
	return bad ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	struct lg_opts o = {
	    .realm = "nts",
	    .secret = "bench-secret",
	    .account = "ACbench",
	    .allocs = 4,
	    .size = 100,
	    .duration = 2,
	    .window = 64,
	    .reverse = true,
	    .mode = "turn",
	    .max_rate = 4e6,
	    .batch = 64,
	    .conns = 8,
	    .url_path = "/",
	    .body = "",
	    .transport = "udp",
	    .client_ips = 1,
	};
	struct rlimit rl = {65536, 65536};
	const char *cmd;

	if (argc < 2) {
		lg_usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (lg_parse(&o, argc - 1, argv + 1) < 0) {
		lg_usage(stderr);
		return 2;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	o.auth = auth_create(o.realm, &o.secret, 1, NULL, 0);
	if (!o.auth || lg_transport_init(&o) < 0) {
		fprintf(stderr, "nts-loadgen: cannot create the credential context\n");
		return 1;
	}
	srand((unsigned)time(NULL) ^ (unsigned)lg_now_ns());
	int rc = 2;

	if (!strcmp(cmd, "relay"))
		rc = lg_cmd_relay(&o) ? 1 : 0;
	else if (!strcmp(cmd, "xdp"))
		rc = lg_cmd_xdp(&o) ? 1 : 0;
	else if (!strcmp(cmd, "clients"))
		rc = lg_cmd_clients(&o) ? 1 : 0;
	else if (!strcmp(cmd, "alloc"))
		rc = lg_cmd_alloc(&o) ? 1 : 0;
	else if (!strcmp(cmd, "api"))
		rc = lg_cmd_api(&o) ? 1 : 0;
	else
		lg_usage(stderr);
	auth_destroy(o.auth);
	lg_transport_free(&o);
	return rc;
}
