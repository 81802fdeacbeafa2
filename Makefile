# tern top-level Makefile.
#
# Conventions (so adding a file never needs an edit here):
#   common/*.c                 -> build/libtern.a, linked by every program
#   DIR/*.c for each daemon    -> build/DIR/libDIR.a (all but DIR/DIR.c) + DIR/DIR.c = build/bin/DIR
#   tools/NAME/*.c, an admin command, the same way: build/tools/NAME/libNAME.a + build/bin/NAME
#   tests/unit/test_NAME.c     -> build/tests/test_NAME (cmocka; links every program archive)
#   fuzz/fuzz_NAME.c           -> build/fuzz/replay_NAME (make check replays fuzz/corpus/NAME/)
#                                 and build-fuzz/fuzz/fuzz_NAME (make fuzz: clang's libFuzzer)
#   mk/*.sh                    the scripts behind make deps/run/stop/install/fuzz (not installed)
#
# Targets: all (default), check, run, stop, deps, install, uninstall,
#   install-mta-links, uninstall-mta-links, bench, soak, fuzz, clean.
# Options: CC=clang, SANITIZE=1 (ASan+UBSan), SOAK_SECONDS, FUZZ_SECONDS;
#   for install: PREFIX, DESTDIR, SBINDIR, LIBEXECDIR, MANDIR, SYSCONFDIR,
#   QUEUEDIR, SYSTEMDDIR, FORCE=1 (install-mta-links over another MTA's
#   files, kept as backups), PURGE=1 (uninstall removes queue and config).

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0
PYTHON   ?= /usr/bin/python3
SOAK_SECONDS ?= 120
FUZZ_SECONDS ?= 60
FUZZ_CC  ?= clang

# The rules made by $(eval) below come first in this file; "make" alone
# must still mean "make all".
.DEFAULT_GOAL := all

SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/tern
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc/tern
QUEUEDIR   ?= /var/spool/tern
SYSTEMDDIR ?= /lib/systemd/system
ALIASES    ?= /etc/aliases
FORCE      ?= 0
PURGE      ?= 0

DAEMONS = master smtpd qmgr deliver resolver anvil smtp pickup showq bounce lookup
B = build

WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -fstack-protector-strong -Icommon $(shell pkg-config --cflags libbsd-overlay 2>/dev/null) \
            $(shell pkg-config --cflags libpq 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -DTERN_SYSCONFDIR='"$(SYSCONFDIR)"' -DTERN_LIBEXECDIR='"$(LIBEXECDIR)"'
# FUZZ=1 is make fuzz's own build (clang, coverage for libFuzzer), in build-fuzz/.
ifeq ($(FUZZ),1)
  CFLAGS  += -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
  B = build-fuzz
else ifeq ($(SANITIZE),1)
  CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
  B = build-san
else
  CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

# Lookup tables (common/map_db.c, map_pgsql.c): linked only into the programs
# that use maps (--as-needed), so smtpd and the others carry no libdb or libpq.
LIBS_MAPS     = -Wl,--as-needed -ldb-5.3 -lpq -Wl,--no-as-needed
LIBS_COMMON   = -levent_core -lbsd $(LIBS_MAPS)
LIBS_resolver = -lunbound
LIBS_smtpd    = -lpthread -lssl -lcrypto
LIBS_qmgr     =
LIBS_deliver  =
LIBS_master   =
LIBS_smtp     = -levent_openssl -lssl -lcrypto

COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/%.o)
LIBTERN    = $(B)/libtern.a

# A program lives in folder $(1) and is named $(2): an archive of every file
# but the one holding main() ($(1)/$(2).c), so unit tests can link its parts.
define program_rules
$(2)_LIBSRC := $$(filter-out $(1)/$(2).c,$$(wildcard $(1)/*.c))
$(2)_LIBOBJ := $$($(2)_LIBSRC:%.c=$(B)/%.o)
$(B)/$(1)/lib$(2).a: $$($(2)_LIBOBJ) | $(B)/empty.o
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^ $(B)/empty.o
$(B)/bin/$(2): $(B)/$(1)/$(2).o $(B)/$(1)/lib$(2).a $(LIBTERN)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(LIBS_$(2)) $(LIBS_COMMON)
endef
TOOLS = $(patsubst tools/%/,%,$(wildcard tools/*/))
$(foreach d,$(DAEMONS),$(eval $(call program_rules,$(d),$(d))))

# The master checks every key of tern.conf (master/master_params.c): it links
# each daemon's key table, DIR/DIR_params.o, which is data only.
PARAMS_OBJ = $(patsubst %.c,$(B)/%.o,$(filter-out master/%,$(wildcard */*_params.c)))
$(B)/bin/master: $(PARAMS_OBJ)
# ternctl prints and checks every key, master.conf and the queue as the
# master does: the same tables, and the master's archive (then libtern again,
# which the master's parts use).
$(B)/bin/ternctl: $(PARAMS_OBJ) $(B)/master/libmaster.a
LIBS_ternctl = $(LIBTERN)
$(foreach t,$(TOOLS),$(eval $(call program_rules,tools/$(t),$(t))))

DAEMON_ARCHIVES = $(foreach d,$(DAEMONS),$(B)/$(d)/lib$(d).a) \
                  $(foreach t,$(TOOLS),$(B)/tools/$(t)/lib$(t).a)
DAEMON_BINS     = $(foreach d,$(DAEMONS),$(B)/bin/$(d))
TOOL_BINS       = $(foreach t,$(TOOLS),$(B)/bin/$(t))
TEST_SRC   = $(wildcard tests/unit/test_*.c)
TEST_BINS  = $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
ALL_LIBS   = -lunbound -lpthread -levent_openssl -lssl -lcrypto $(LIBS_COMMON)
FUZZ_NAMES = $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
REPLAY_BINS = $(FUZZ_NAMES:%=$(B)/fuzz/replay_%)
FUZZ_BINS  = $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)

.PHONY: all check unit-check integration-check run stop deps install uninstall \
	install-mta-links uninstall-mta-links bench soak fuzz fuzz-build clean
all: $(DAEMON_BINS) $(TOOL_BINS)

$(B)/empty.o:
	@mkdir -p $(@D)
	echo 'typedef int tern_empty_unit;' | $(CC) $(CFLAGS) -x c -c -o $@ -

$(B)/%.o: %.c | $(B)/empty.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -I$(dir $<) -c -o $@ $<

-include $(shell find $(B) -name '*.d' 2>/dev/null)

$(LIBTERN): $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/tests/%: tests/unit/%.c $(DAEMON_ARCHIVES) $(LIBTERN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -I. $(LDFLAGS) -o $@ $< $(DAEMON_ARCHIVES) $(LIBTERN) -lcmocka $(ALL_LIBS)

# A harness with our own main() (fuzz/replay.c), built like a test; and with
# libFuzzer's main(), only in make fuzz's build.
$(B)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(wildcard fuzz/*.h) $(DAEMON_ARCHIVES) $(LIBTERN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -I. -Ifuzz $(LDFLAGS) -o $@ fuzz/fuzz_$*.c fuzz/replay.c $(DAEMON_ARCHIVES) $(LIBTERN) $(ALL_LIBS)
$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(DAEMON_ARCHIVES) $(LIBTERN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -I. -Ifuzz $(LDFLAGS) -fsanitize=fuzzer -o $@ fuzz/fuzz_$*.c $(DAEMON_ARCHIVES) $(LIBTERN) $(ALL_LIBS)

# deps: install what building and testing need, when root and something is missing.
deps:
	@sh mk/deps.sh

unit-check: $(TEST_BINS) $(REPLAY_BINS)
	@sh tests/run-unit.sh $(TEST_BINS)
	@sh mk/fuzz.sh replay $(B) $(FUZZ_NAMES)

integration-check: all
	TERN_BUILD=$(abspath $(B)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

check: deps
	$(MAKE) all unit-check
	$(MAKE) integration-check

run: deps
	$(MAKE) all
	@sh mk/instance.sh start $(CURDIR)/run 127.0.0.1:2525 $(abspath $(B))

stop:
	@sh mk/instance.sh stop $(CURDIR)/run

# mk/install.sh has the layout; it takes every daemon and tool from these lists.
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SBINDIR="$(SBINDIR)" \
	LIBEXECDIR="$(LIBEXECDIR)" MANDIR="$(MANDIR)" SYSCONFDIR="$(SYSCONFDIR)" \
	QUEUEDIR="$(QUEUEDIR)" SYSTEMDDIR="$(SYSTEMDDIR)" ALIASES="$(ALIASES)" BUILD="$(B)" \
	DAEMONS="$(DAEMONS)" TOOLS="$(TOOLS)" FORCE="$(FORCE)" PURGE="$(PURGE)"
install: all
	@$(INSTALL_ENV) sh mk/install.sh install
uninstall install-mta-links uninstall-mta-links:
	@$(INSTALL_ENV) sh mk/install.sh $@

bench: deps
	$(MAKE) all
	@sh bench/run.sh $(abspath $(B))

# soak: the crash-cycle soak of make check, SOAK_SECONDS long; prints acked,
# lost, duplicated and kills.
soak: all
	TERN_BUILD=$(abspath $(B)) TERN_SOAK_SECONDS=$(SOAK_SECONDS) \
	    $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/integration/test_soak.py

# fuzz: every harness for FUZZ_SECONDS on its corpus; what it finds goes to
# build-fuzz/fuzz-out/, never into fuzz/corpus/.
fuzz: deps
	$(MAKE) FUZZ=1 CC=$(FUZZ_CC) fuzz-build
	@sh mk/fuzz.sh run build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-build: $(FUZZ_BINS)

clean:
	rm -rf build build-san build-fuzz
