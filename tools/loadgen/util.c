/* Load generator helpers: monotonic time, namespace switching, /proc figures, the XDP sink's
 * counters, latency histograms (the sink's bucket layout) and flat JSON output. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lg.h"

uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lg_sleep_until(uint64_t t_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
			      .tv_nsec = (long)(t_ns % 1000000000ull)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int lg_netns_enter(const char *name)
{
	char path[256];
	int fd, r = 0;

	if (!name || !*name)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		r = -errno;
	close(fd);
	return r;
}

int lg_cpu_sample(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 7)
		return -EIO;
	/* user nice system idle iowait irq softirq steal: busy is user+nice+system+irq+softirq. */
	*busy = v[0] + v[1] + v[2] + v[5] + v[6];
	*total = *busy + v[3] + v[4] + v[7];
	return 0;
}

long lg_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void lg_hist_add(struct bench_hist *h, uint64_t ns)
{
	uint64_t fine = (uint64_t)BENCH_LAT_FINE * BENCH_LAT_FINE_NS;

	if (ns < fine)
		h->b[ns / BENCH_LAT_FINE_NS]++;
	else if (ns - fine < (uint64_t)BENCH_LAT_COARSE * BENCH_LAT_COARSE_NS)
		h->b[BENCH_LAT_FINE + (ns - fine) / BENCH_LAT_COARSE_NS]++;
	else
		h->b[BENCH_LAT_BUCKETS - 1]++;
}

uint64_t lg_hist_count(const struct bench_hist *h)
{
	uint64_t n = 0;

	for (int i = 0; i < BENCH_LAT_BUCKETS; i++)
		n += h->b[i];
	return n;
}

/* Upper edge of bucket i in microseconds (the overflow bucket reports its lower edge). */
static double lg_hist_edge_us(int i)
{
	if (i < BENCH_LAT_FINE)
		return (i + 1) * BENCH_LAT_FINE_NS / 1000.0;
	if (i < BENCH_LAT_BUCKETS - 1)
		return (BENCH_LAT_FINE * BENCH_LAT_FINE_NS +
			(double)(i - BENCH_LAT_FINE + 1) * BENCH_LAT_COARSE_NS) /
		       1000.0;
	return (BENCH_LAT_FINE * BENCH_LAT_FINE_NS +
		(double)BENCH_LAT_COARSE * BENCH_LAT_COARSE_NS) /
	       1000.0;
}

double lg_hist_pct(const struct bench_hist *h, double q)
{
	uint64_t n = lg_hist_count(h), acc = 0, want;

	if (!n)
		return -1;
	want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	for (int i = 0; i < BENCH_LAT_BUCKETS; i++) {
		acc += h->b[i];
		if (acc > want)
			return lg_hist_edge_us(i);
	}
	return lg_hist_edge_us(BENCH_LAT_BUCKETS - 1);
}

void lg_json_begin(struct lg_json *j)
{
	j->fields = 0;
	fputc('{', stdout);
}

void lg_json_num(struct lg_json *j, const char *key, double v)
{
	printf("%s\"%s\": %.6g", j->fields++ ? ", " : "", key, v);
}

void lg_json_str(struct lg_json *j, const char *key, const char *v)
{
	printf("%s\"%s\": \"", j->fields++ ? ", " : "", key);
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			fputc(*v, stdout);
	fputc('"', stdout);
}

void lg_json_end(struct lg_json *j)
{
	(void)j;
	fputs("}\n", stdout);
	fflush(stdout);
}

/* Sum of sum_exec_runtime (ns, first field of schedstat) over every thread of pid; *slices (may
 * be NULL) gets the sum of the third field, the times a thread was scheduled in. */
static uint64_t lg_pid_runtime(int pid, uint64_t *slices)
{
	char path[96];
	struct dirent *e;
	uint64_t sum = 0, n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		unsigned long long ns = 0, wait = 0, runs = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		f = fopen(path, "re");
		if (f && fscanf(f, "%llu %llu %llu", &ns, &wait, &runs) >= 1)
			sum += ns, n += runs;
		if (f)
			fclose(f);
	}
	closedir(d);
	if (slices)
		*slices = n;
	return sum;
}

uint64_t lg_cpu_tasks_relay_slices(const struct lg_cpu_tasks *t)
{
	uint64_t sum = 0, n;

	for (unsigned i = 1; i <= t->nrelay; i++) {
		lg_pid_runtime(t->pid[i], &n);
		sum += n;
	}
	return sum;
}

int lg_cpu_tasks_init(struct lg_cpu_tasks *t, const char *pids)
{
	struct dirent *e;
	DIR *d;

	memset(t, 0, sizeof(*t));
	t->pid[t->n++] = getpid();
	for (const char *p = pids; p && *p && t->n < LG_MAX_PIDS;) {
		t->pid[t->n++] = atoi(p);
		t->nrelay++;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	/* Softirq work deferred to ksoftirqd is part of the packets' cost too. */
	d = opendir("/proc");
	while (d && (e = readdir(d)) && t->n < LG_MAX_PIDS) {
		char path[64], comm[32] = "";
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, "ksoftirqd/", 10))
			t->pid[t->n++] = atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return 0;
}

uint64_t lg_cpu_tasks_ns(const struct lg_cpu_tasks *t, uint64_t *relay_ns)
{
	uint64_t sum = 0, relay = 0;

	for (unsigned i = 0; i < t->n; i++) {
		uint64_t ns = lg_pid_runtime(t->pid[i], NULL);

		sum += ns;
		if (i >= 1 && i <= t->nrelay)
			relay += ns;
	}
	if (relay_ns)
		*relay_ns = relay;
	return sum;
}

int lg_sink_sum(int stats_fd, int ncpus, struct bench_sink_stats *sum)
{
	struct bench_sink_stats per[ncpus > 0 ? ncpus : 1];
	uint32_t key = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0 || bpf_map_lookup_elem(stats_fd, &key, per))
		return ncpus <= 0 ? -EINVAL : -errno;
	for (int i = 0; i < ncpus; i++) {
		sum->pkts += per[i].pkts;
		sum->bytes += per[i].bytes;
		sum->bad += per[i].bad;
		sum->passed += per[i].passed;
	}
	return 0;
}
