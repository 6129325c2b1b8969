/* Loading the fast path onto interfaces (user/fastpath/loader.c, behind ntsctl attach/detach) in a
 * private network namespace with two veth pairs: pins, reuse of pinned maps by a second interface,
 * the devmap of attached interfaces, generic and native modes, double attach, detach.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xdp/libxdp.h>

#include "fastpath/fastpath.h"
#include "fastpath/loader.h"

struct fx {
	char pin_dir[64];
};

static int group_setup(void **state)
{
	static struct fx fx;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (needs root)");
		return -1;
	}
	if (system("set -e; ip link add fpa0 type veth peer name fpa1;"
		   "ip link add fpb0 type veth peer name fpb1;"
		   "for d in fpa0 fpa1 fpb0 fpb1; do ip link set $d up; done") != 0)
		return -1;
	snprintf(fx.pin_dir, sizeof(fx.pin_dir), "/sys/fs/bpf/nts-test-attach-%d", (int)getpid());
	*state = &fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	if (fx) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->pin_dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static uint32_t map_id(const char *pin_dir, const char *name)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return info.id;
}

static int count_port(void *arg, int ifindex)
{
	(*(int *)arg)++;
	return 0;
}

/* ntsctl attach DEV --mode skb, then a second interface in native mode sharing the same maps. */
static void test_attach_pins_maps_and_second_interface_reuses_them(void **state)
{
	struct fx *fx = *state;
	struct fastpath_attach_info info;
	struct fastpath *fp;
	char err[256];
	uint32_t id;
	int ports = 0;

	assert_int_equal(
	    fastpath_attach(fx->pin_dir, "fpa0", true, 1024, 128, &info, err, sizeof(err)), 0);
	assert_string_equal(info.mode, "skb");
	assert_true(info.prog_id > 0);
	assert_int_equal(info.channels, 1024);
	id = map_id(fx->pin_dir, NTS_FP_MAP_CLIENT);
	assert_true(id > 0);
	/* A second attach asks for other sizes: the pinned maps win. */
	assert_int_equal(
	    fastpath_attach(fx->pin_dir, "fpb0", false, 4096, 512, &info, err, sizeof(err)), 0);
	assert_string_equal(info.mode, "native");
	assert_int_equal(info.channels, 1024);
	assert_int_equal(map_id(fx->pin_dir, NTS_FP_MAP_CLIENT), id);
	assert_int_equal(fastpath_foreach_port(fx->pin_dir, count_port, &ports), 0);
	assert_int_equal(ports, 2);
	assert_int_equal(fastpath_open(fx->pin_dir, &fp), 0);
	fastpath_close(fp);
}

static void test_second_attach_to_same_interface_is_refused(void **state)
{
	struct fx *fx = *state;
	struct fastpath_attach_info info;
	char err[256];

	assert_int_equal(
	    fastpath_attach(fx->pin_dir, "fpa0", true, 1024, 128, &info, err, sizeof(err)),
	    -EEXIST);
}

static void test_detach_removes_program_and_port_keeps_maps(void **state)
{
	struct fx *fx = *state;
	struct fastpath_attach_info info;
	char err[256];
	int ports = 0;

	assert_int_equal(fastpath_detach(fx->pin_dir, "fpa0", err, sizeof(err)), 0);
	assert_int_equal(fastpath_attached_info(if_nametoindex("fpa0"), &info), -ENOENT);
	assert_int_equal(fastpath_attached_info(if_nametoindex("fpb0"), &info), 0);
	assert_int_equal(fastpath_detach(fx->pin_dir, "fpb0", err, sizeof(err)), 0);
	assert_int_equal(fastpath_detach(fx->pin_dir, "fpb0", err, sizeof(err)), -ENOENT);
	assert_int_equal(fastpath_foreach_port(fx->pin_dir, count_port, &ports), 0);
	assert_int_equal(ports, 0);
	assert_true(map_id(fx->pin_dir, NTS_FP_MAP_CLIENT) > 0);
}

static void test_attach_to_missing_interface_fails(void **state)
{
	struct fx *fx = *state;
	struct fastpath_attach_info info;
	char err[256];

	assert_int_equal(
	    fastpath_attach(fx->pin_dir, "nosuch0", false, 1024, 128, &info, err, sizeof(err)),
	    -ENODEV);
}

/* The attach is legacy exactly when the kernel refuses the dispatcher's freplace programs (this
 * project's CI kernel does, with EPERM): runs on every kernel. */
static void test_attach_is_legacy_exactly_when_kernel_refuses_freplace(void **state)
{
	struct fastpath_attach_info info;
	bool refused = strstr(fastpath_legacy_reason(), "refuses") != NULL;

	(void)state;
	assert_int_equal(fastpath_attached_info(if_nametoindex("fpa0"), &info), 0);
	assert_int_equal(info.legacy, refused);
	printf("# attach mode: %s\n", refused ? fastpath_legacy_reason() : "libxdp dispatcher");
}

/* Where the kernel allows freplace, the dispatcher lets a foreign XDP program share the
 * interface; where it does not, this is a skip with the kernel's reason, not a pass (see README,
 * "Operating the fast path"). */
static void test_dispatcher_shares_interface_with_another_program(void **state)
{
	struct fastpath_attach_info info;
	struct xdp_program *other;
	struct xdp_multiprog *mp;
	int ifindex = if_nametoindex("fpa0"), n = 0;

	(void)state;
	if (strstr(fastpath_legacy_reason(), "refuses")) {
		printf("# SKIP dispatcher path not testable here: %s\n", fastpath_legacy_reason());
		skip();
	}
	assert_int_equal(fastpath_attached_info(ifindex, &info), 0);
	assert_false(info.legacy);
	/* xdp-tools' allow-all filter program, loaded the way xdp-loader would. */
	other =
	    xdp_program__open_file("/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o", NULL, NULL);
	assert_false(libxdp_get_error(other)); /* xdp-tools is in tools/deps.sh */
	assert_int_equal(xdp_program__attach(other, ifindex, XDP_MODE_SKB, 0), 0);
	assert_int_equal(fastpath_attached_info(ifindex, &info), 0);
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	assert_false(libxdp_get_error(mp));
	for (struct xdp_program *p = NULL; (p = xdp_multiprog__next_prog(p, mp));)
		n++;
	assert_int_equal(n, 2);
	xdp_multiprog__close(mp);
	assert_int_equal(xdp_program__detach(other, ifindex, XDP_MODE_SKB, 0), 0);
	xdp_program__close(other);
	assert_int_equal(fastpath_attached_info(ifindex, &info), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attach_pins_maps_and_second_interface_reuses_them),
	    cmocka_unit_test(test_second_attach_to_same_interface_is_refused),
	    cmocka_unit_test(test_attach_is_legacy_exactly_when_kernel_refuses_freplace),
	    cmocka_unit_test(test_dispatcher_shares_interface_with_another_program),
	    cmocka_unit_test(test_detach_removes_program_and_port_keeps_maps),
	    cmocka_unit_test(test_attach_to_missing_interface_fails),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
