# nts — build, run, test, fuzz and bench. Everything lands in build/ (build/san with SAN=1,
# build/tsan with SAN=thread).
# Each user/<module>/ becomes a static library; tests/unit/test_<module>*.c link that module and its deps.

.DEFAULT_GOAL := all
CC        := clang
BPF_CC    := clang
BUILD     ?= build
ifeq ($(SAN),1)
BUILD     := build/san
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
# SAN=thread: ThreadSanitizer for the relay workers (build/tsan); `make test SAN=thread` runs the
# unit tests and the suites that exercise workers (tests/run.sh --threads).
ifeq ($(SAN),thread)
BUILD     := build/tsan
SANFLAGS  := -fsanitize=thread -fno-omit-frame-pointer
endif
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wpedantic -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	     -Iinclude -Iuser -I$(BUILD)/bpf -I$(BUILD)/gen -MMD -MP $(SANFLAGS)
LDFLAGS   += $(SANFLAGS)
# libnl: user/net/hostaddr.c follows the host's addresses (route/address notifications).
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0)
NL_LIBS   := $(shell pkg-config --libs libnl-3.0 libnl-route-3.0)
CFLAGS    += $(NL_CFLAGS)
LDLIBS    := -lbpf -lxdp -lelf -lz -lssl -lcrypto -lmicrohttpd -ljansson -lsqlite3 $(NL_LIBS) -lm
# libsystemd: sd_notify for ntsd.service (user/ntsd/notify.c).
LDLIBS    += -lsystemd
# libpq: the store's PostgreSQL backend (user/store/db_pg.c) and the store tests that inspect it.
PQ_CFLAGS := $(shell pkg-config --cflags libpq)
LDLIBS    += $(shell pkg-config --libs libpq)
ARCH_INC  := -I/usr/include/$(shell uname -m)-linux-gnu
# BPF_EXTRA: more flags for the BPF objects, e.g. a profiling build of the fast path
# (make BUILD=build/p1 BPF_EXTRA=-DNTS_FP_PROFILE_STOP=1 build/p1/nts-xdp-micro; README).
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -Iinclude $(ARCH_INC) -D__TARGET_ARCH_x86 $(BPF_EXTRA)

# Modules and what each one #includes directly (tools/check_deps.sh, run by `make test`, keeps this
# table equal to the #include lines). Libraries link with the transitive closure, in a group.
MODULES   := ntsd net api ctl store turn fastpath auth stun util
DEPS_util     :=
DEPS_stun     := util
DEPS_auth     := stun util
DEPS_fastpath := util
DEPS_turn     := auth stun util
DEPS_store    := util
DEPS_api      := auth ctl store stun util
DEPS_ctl      := util
DEPS_net      := stun turn util
DEPS_ntsd     := api auth ctl fastpath net store turn util
DEPS_ntsctl   := api ctl fastpath util
ALL_LIBS      := $(MODULES)

# A module and everything it reaches through DEPS_*. The depth is bounded by the number of modules
# so that a cycle (which tools/check_deps.sh reports) cannot make make recurse forever.
closure    = $(call closure_n,$(1),$(MODULES))
closure_n  = $(sort $(1) $(if $(2),$(foreach d,$(DEPS_$(1)),$(call closure_n,$(d),$(wordlist 2,99,$(2))))))
lib_of     = $(BUILD)/lib/libnts_$(1).a
libs_for   = $(foreach m,$(filter $(MODULES),$(call closure,$(1))),$(call lib_of,$(m)))
link_libs  = -Wl,--start-group $(call libs_for,$(1)) -Wl,--end-group

# A module's main.c (user/ntsd/main.c) is its program's entry point, not part of its library.
define module_rules
SRC_$(1) := $$(filter-out user/$(1)/main.c,$$(wildcard user/$(1)/*.c))
OBJ_$(1) := $$(patsubst %.c,$(BUILD)/%.o,$$(SRC_$(1)))
$(call lib_of,$(1)): $$(OBJ_$(1))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))
$(OBJ_store) $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%.o,$(wildcard tests/unit/test_store*.c)): \
	CFLAGS += $(PQ_CFLAGS)

BPF_SRC   := $(wildcard bpf/*.bpf.c)
BPF_OBJ   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRC))
BPF_SKEL  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRC))
# Installed for bpftool and xdp-loader: the XDP program. ntsd embeds bpf/reuseport.bpf.c (its
# skeleton) and loads it itself.
BPF_SHIP  := $(filter-out %/reuseport.bpf.o,$(BPF_OBJ))
# The bench's XDP programs live with nts-loadgen, which loads them from build/bpf at run time; only
# the bench (and the tests that run it) build them.
BENCH_BPF_SRC := $(wildcard tools/loadgen/bpf/bench_*.bpf.c)
BENCH_BPF_OBJ := $(patsubst tools/loadgen/bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BENCH_BPF_SRC))

NTSD      := $(BUILD)/ntsd
NTSD_OBJ  := $(BUILD)/user/ntsd/main.o
NTSCTL    := $(BUILD)/ntsctl
NTSCTL_SRC := $(wildcard user/ntsctl/*.c)
NTSCTL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(NTSCTL_SRC))
TOOL_SRC  := $(wildcard tools/loadgen/*.c)
TOOLS     := $(if $(TOOL_SRC),$(BUILD)/nts-loadgen) $(BUILD)/nts-xdp-micro

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
BPFT_SRC  := $(wildcard tests/bpf/test_*.c)
BPFT_BIN  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFT_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

.PHONY: all deps run test check-deps fuzz fuzz-build bench bench-build clean format
all: $(BPF_OBJ) $(NTSD) $(NTSCTL) $(UNIT_BIN) $(BPFT_BIN)

deps:
	@bash tools/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Userspace objects that embed a BPF skeleton need it generated first.
$(foreach m,$(MODULES),$(OBJ_$(m))) $(NTSD_OBJ) $(NTSCTL_OBJ): | $(BPF_SKEL)
$(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%.o,$(BPFT_SRC)): | $(BPF_SKEL)

# BPF objects and skeletons; fuzz targets always use build/bpf, so SAN builds make both.
define bpf_rules
$(1)/bpf/%.bpf.o: bpf/%.bpf.c $$(wildcard include/nts/*.h) $$(wildcard bpf/*.h)
	@mkdir -p $$(@D)
	$$(BPF_CC) $$(BPF_CFLAGS) -c -o $$@ $$<

$(1)/bpf/%.skel.h: $(1)/bpf/%.bpf.o
	bpftool gen skeleton $$< name $$(subst .bpf.o,,$$(notdir $$<))_bpf > $$@.tmp && mv $$@.tmp $$@
endef
$(foreach d,$(sort $(BUILD) build),$(eval $(call bpf_rules,$(d))))

# The connectivity test page (user/api/diag/) becomes constant C arrays that
# user/api/api_diag_page.c includes; fuzz targets always use build/gen, so SAN builds make both.
DIAG_ASSETS := $(addprefix user/api/diag/page.,html css js)
define diag_rules
$(1)/gen/diag_assets.h: $(DIAG_ASSETS)
	@mkdir -p $$(@D)
	for f in html css js; do xxd -i -n api_diag_$$$$f user/api/diag/page.$$$$f; done | \
		sed 's/^unsigned/static const unsigned/' > $$@.tmp && mv $$@.tmp $$@
endef
$(foreach d,$(sort $(BUILD) build),$(eval $(call diag_rules,$(d))))
$(BUILD)/user/api/api_diag_page.o: | $(BUILD)/gen/diag_assets.h

# Each bpf/*.h compiles on its own: it includes what it uses and relies on no include order.
BPF_HDR_OK := $(patsubst bpf/%.h,$(BUILD)/bpf/%.h.ok,$(wildcard bpf/*.h))
$(BUILD)/bpf/%.h.ok: bpf/%.h $(wildcard bpf/*.h) $(wildcard include/nts/*.h)
	@mkdir -p $(@D)
	$(BPF_CC) $(BPF_CFLAGS) -Wno-unused-function -fsyntax-only -include $< -x c /dev/null
	@touch $@
$(BPF_OBJ): | $(BPF_HDR_OK)

$(BUILD)/bpf/bench_%.bpf.o: tools/loadgen/bpf/bench_%.bpf.c tools/loadgen/bench_proto.h
	@mkdir -p $(@D)
	$(BPF_CC) $(BPF_CFLAGS) -c -o $@ $<

$(NTSD): $(NTSD_OBJ) $(call libs_for,ntsd)
	$(CC) $(LDFLAGS) -o $@ $< $(call link_libs,ntsd) $(LDLIBS)

# ntsctl links only the modules it includes (and theirs): none of ntsd's or net's event loop.
$(NTSCTL): $(NTSCTL_OBJ) $(call libs_for,ntsctl)
	$(CC) $(LDFLAGS) -o $@ $(NTSCTL_OBJ) $(call link_libs,ntsctl) $(LDLIBS)

$(BUILD)/nts-loadgen: $(patsubst %.c,$(BUILD)/%.o,$(TOOL_SRC)) $(call libs_for,auth) | $(BENCH_BPF_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(call link_libs,auth) $(LDLIBS)

# The XDP program's own time per packet (tools/bench/xdp_micro.c), on the bpf tests' fixture.
$(BUILD)/tools/bench/xdp_micro.o: CFLAGS += -Itests/bpf -Wno-unused-function
$(BUILD)/tools/bench/xdp_micro.o: | $(BPF_SKEL)
$(BUILD)/nts-xdp-micro: $(BUILD)/tools/bench/xdp_micro.o $(call libs_for,fastpath) $(BPF_OBJ)
	$(CC) $(LDFLAGS) -o $@ $< $(call link_libs,fastpath) $(LDLIBS) -lcmocka

# tests/unit/test_<module>[_more].c links <module> and what it depends on.
test_module = $(firstword $(subst _, ,$(patsubst test_%,%,$(1))))
# Keep intermediate objects (no "rm" after the test summary) and expand test prerequisites twice.
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $$(call libs_for,$$(call test_module,$$*))
	$(CC) $(LDFLAGS) -o $@ $< $(call link_libs,$(call test_module,$*)) $(LDLIBS) -lcmocka

# The usage tests lose a COMMIT's answer on purpose (tests/unit/test_store_usage.c).
$(BUILD)/tests/unit/test_store_usage: LDFLAGS += -Wl,--wrap=db_commit

$(BUILD)/tests/bpf/%: $(BUILD)/tests/bpf/%.o $(call libs_for,fastpath) $(BPF_OBJ)
	$(CC) $(LDFLAGS) -o $@ $< $(call link_libs,fastpath) $(LDLIBS) -lcmocka

# Fuzz targets: clang libFuzzer with ASan+UBSan, compiled together with the module sources they exercise.
FUZZ_CFLAGS := -O1 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -Ibuild/bpf -Ibuild/gen $(NL_CFLAGS) $(PQ_CFLAGS) \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz_module = $(firstword $(subst _, ,$(patsubst fuzz_%,%,$(1))))
build/fuzz/%: tests/fuzz/%.c $$(foreach m,$$(call closure,$$(call fuzz_module,$$*)),$$(SRC_$$(m))) | $(patsubst bpf/%.bpf.c,build/bpf/%.skel.h,$(BPF_SRC)) build/gen/diag_assets.h
	@mkdir -p $(@D)
	$(CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)

FUZZ_SECONDS ?= 60
fuzz-build: $(FUZZ_BIN)
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
		echo "== $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | tail -n 12; \
	done

run: deps all
	@bash tools/run.sh $(BUILD)

check-deps:
	@bash tools/check_deps.sh

ifeq ($(SAN),thread)
test: deps check-deps all
	@bash tests/run.sh $(BUILD) --threads
else
test: deps check-deps all bench-build fuzz-build
	@bash tests/run.sh $(BUILD)
endif

bench-build: $(TOOLS)
bench: deps all bench-build
	@bash tools/bench/run.sh $(BUILD) $(if $(QUICK),--quick) $(if $(PROFILE),--profile)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build/lib build/user build/tests build/bpf build/gen build/fuzz build/san build/ntsd build/ntsctl build/nts-loadgen

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- Install and Debian package (README "Install") -----------------------------------------
# `make install` copies what `make all` built; DESTDIR stages the tree (the .deb uses it).
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SBINDIR    := $(PREFIX)/sbin
NTSLIBDIR  := $(PREFIX)/lib/nts
MANDIR     := $(PREFIX)/share/man
COMPDIR    := $(PREFIX)/share/bash-completion/completions
INSTALL    ?= install
MAN_PAGES  := man/ntsd.8 man/ntsctl.8 man/ntsd.conf.5

.PHONY: progs install uninstall deb
# What install ships, without the tests `make all` builds too.
progs: $(BPF_OBJ) $(NTSD) $(NTSCTL)

install: progs
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(NTSLIBDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/nts $(DESTDIR)$(PREFIX)/lib/sysusers.d
	$(INSTALL) -m 0755 $(NTSD) $(NTSCTL) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 $(BPF_SHIP) $(DESTDIR)$(NTSLIBDIR)/
	$(INSTALL) -m 0644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 dist/completion/ntsctl.bash $(DESTDIR)$(COMPDIR)/ntsctl
	sed 's|/usr/sbin/|$(SBINDIR)/|g; s|/etc/nts/|$(SYSCONFDIR)/nts/|g' \
		dist/systemd/ntsd.service >$(DESTDIR)$(UNITDIR)/ntsd.service
	sed 's|/usr/sbin/|$(SBINDIR)/|g' dist/systemd/nts-fastpath@.service \
		>$(DESTDIR)$(UNITDIR)/nts-fastpath@.service
	$(INSTALL) -m 0644 dist/systemd/nts.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/nts.conf
	chmod 0644 $(DESTDIR)$(UNITDIR)/ntsd.service $(DESTDIR)$(UNITDIR)/nts-fastpath@.service
	@# An operator's configuration is never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/nts/ntsd.conf ] || \
		$(INSTALL) -m 0644 dist/ntsd.conf $(DESTDIR)$(SYSCONFDIR)/nts/ntsd.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ntsd $(DESTDIR)$(SBINDIR)/ntsctl \
		$(addprefix $(DESTDIR)$(NTSLIBDIR)/,$(notdir $(BPF_SHIP))) \
		$(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
		$(DESTDIR)$(COMPDIR)/ntsctl \
		$(DESTDIR)$(UNITDIR)/ntsd.service $(DESTDIR)$(UNITDIR)/nts-fastpath@.service \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/nts.conf
	-rmdir $(DESTDIR)$(NTSLIBDIR)

# nts_<version>_<arch>.deb in build/ through debhelper (debian/rules), from what `make progs`
# already built; no .changes: this is for installing, not uploading.
DEB_VERSION = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH    = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_FILE    = build/nts_$(DEB_VERSION)_$(DEB_ARCH).deb
deb: progs
	dpkg-checkbuilddeps
	debian/rules binary >build/deb.log 2>&1 || { tail -n 30 build/deb.log; exit 1; }
	rm -rf debian/nts debian/.debhelper debian/files debian/*.substvars \
		debian/debhelper-build-stamp debian/*.debhelper debian/*.debhelper.log
	lintian --fail-on error $(DEB_FILE)
	@echo "built $(DEB_FILE)"
