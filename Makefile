# tcpchat build. `make` builds build/tcpchatd and build/tcpchat; `make test` runs every test.
# SAN=asan or SAN=tsan builds instrumented copies under build/asan or build/tsan.

CC      ?= cc
SAN     ?=
PYTHON  ?= /usr/bin/python3

CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -g -pthread -Isrc -Isrc/server -I/usr/include/uthash
LDLIBS_COMMON = -pthread
# The server's libraries: inih (config file), libsodium (operator password hashes), OpenSSL
# (the TLS port), SQLite (the history store), hiredis (the cluster's Redis connections),
# libsystemd (sd_notify: READY=1 and the rest to systemd, a no-op without it), wslay (WebSocket
# frames) and http-parser (HTTP requests) for the web listener (no pkg-config files).
SERVER_PKGS   = inih libsodium openssl sqlite3 hiredis libsystemd
SERVER_CFLAGS := $(shell pkg-config --cflags $(SERVER_PKGS) 2>/dev/null)
SERVER_LIBS   := $(or $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null),-linih -lsodium -lssl -lcrypto -lsqlite3 -lhiredis -lsystemd) -lwslay -lhttp_parser
# The client and the bench need OpenSSL only (their --tls), and the client readline (line mode)
# and ncursesw (full-screen mode).
TLS_LIBS      := $(or $(shell pkg-config --libs openssl 2>/dev/null),-lssl -lcrypto)

ifeq ($(SAN),asan)
BUILD   = build/asan
SANFLAGS = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SAN),tsan)
BUILD   = build/tsan
SANFLAGS = -O1 -fsanitize=thread -fno-omit-frame-pointer
else
BUILD   = build
SANFLAGS = -O2
endif

# CPPFLAGS too (empty unless given): the Debian build passes -D_FORTIFY_SOURCE=2 there.
CFLAGS  += $(CFLAGS_COMMON) $(SANFLAGS) $(SERVER_CFLAGS)
LDFLAGS += $(SANFLAGS)

COMMON_SRC = $(wildcard src/common/*.c)
SERVER_SRC = $(wildcard src/server/*.c src/server/*/*.c)
CLIENT_SRC = $(wildcard src/client/*.c)
BENCH_SRC  = $(wildcard src/bench/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
# The web client (web/), embedded into the server as one generated C file.
WEB_FILES  = $(shell find web -type f ! -name '.*' 2>/dev/null)
# A directory's time changes when a file in it is added or removed: a deleted file rebuilds too.
WEB_DIRS   = $(shell find web -type d 2>/dev/null)
WEB_OBJ    = $(BUILD)/obj/gen/webfiles_data.o
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(WEB_OBJ)
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_OBJ  = $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
# Server objects without main(), for unit tests of server modules.
SERVER_LIB = $(filter-out $(BUILD)/obj/src/server/main.o,$(SERVER_OBJ))
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: compat-peers all clean test test-unit test-e2e test-asan test-tsan fuzz fuzz-smoke lint valgrind \
        format format-check deps

BINARIES = $(BUILD)/tcpchatd $(BUILD)/tcpchat $(if $(BENCH_SRC),$(BUILD)/tcpchat-bench)

all: $(BINARIES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/webfiles_data.c: $(WEB_FILES) $(WEB_DIRS) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh web $@
$(WEB_OBJ): $(BUILD)/gen/webfiles_data.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tcpchatd: $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_COMMON) $(SERVER_LIBS)

$(BUILD)/tcpchat: $(CLIENT_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_COMMON) -lreadline -lncursesw $(TLS_LIBS)

$(BUILD)/tcpchat-bench: $(BENCH_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_COMMON) -lm $(TLS_LIBS)

# Every unit test links the in-process server of tests/inproc (inproc.h), used or not.
INPROC_OBJ = $(BUILD)/obj/tests/inproc/inproc.o
$(BUILD)/tests/%: tests/unit/%.c $(INPROC_OBJ) $(SERVER_LIB) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $< $(INPROC_OBJ) $(SERVER_LIB) $(COMMON_OBJ) -o $@ $(LDLIBS_COMMON) \
		$(SERVER_LIBS) -lcmocka

# Installs build and test dependencies from Debian when any is missing (needs root or sudo).
deps:
	@scripts/deps.sh

test-unit: deps $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-e2e: deps all
	TCPCHAT_BUILD=$(BUILD) $(PYTHON) -m pytest -q tests/e2e

# The whole suite: unit tests, then end-to-end tests against the real binaries.
test: test-unit test-e2e

# The real-client and protocol tests against ngircd from Debian instead of tcpchatd, to show
# the tests themselves are right (optional; slow, ngircd throttles clients).
compat-peers: deps
	@command -v ngircd >/dev/null || { sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get install -y -qq ngircd >/dev/null; }
	TCPCHAT_PEER=ngircd $(PYTHON) -m pytest -q tests/e2e/test_realclients.py \
		tests/e2e/test_irc_commands.py tests/e2e/test_irc_users.py

test-asan:
	$(MAKE) SAN=asan test

test-tsan:
	$(MAKE) SAN=tsan test-e2e

# libFuzzer targets (fuzz/README.md), under ASan+UBSan (any UB aborts). The sources are built
# with coverage into build/fuzz/obj. fuzz-smoke runs every target for FUZZ_SECONDS at once
# from its seed corpus and fails on any crash, leak or timeout (CI).
FUZZ_TARGETS = ircmsg input config web
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -g -O1 -pthread -Isrc -Isrc/server -I/usr/include/uthash \
               $(SERVER_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
FUZZ_COMMON_OBJ = $(COMMON_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_SERVER_OBJ = $(filter-out build/fuzz/obj/src/server/main.o,$(SERVER_SRC:%.c=build/fuzz/obj/%.o)) \
                  build/fuzz/obj/gen/webfiles_data.o
FUZZ_INPROC_OBJ = build/fuzz/obj/tests/inproc/inproc.o

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
.SECONDARY: $(FUZZ_COMMON_OBJ) $(FUZZ_SERVER_OBJ) $(FUZZ_INPROC_OBJ)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
build/fuzz/obj/gen/webfiles_data.o: build/fuzz/gen/webfiles_data.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/gen/webfiles_data.c: $(WEB_FILES) $(WEB_DIRS) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh web $@
build/fuzz/fuzz_ircmsg: fuzz/fuzz_ircmsg.c $(FUZZ_COMMON_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(TLS_LIBS)
build/fuzz/fuzz_input build/fuzz/fuzz_web: build/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_INPROC_OBJ) \
                                          $(FUZZ_SERVER_OBJ) $(FUZZ_COMMON_OBJ)
	clang $(FUZZ_CFLAGS) -Itests -fsanitize=fuzzer $^ -o $@ $(SERVER_LIBS)
build/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_SERVER_OBJ) $(FUZZ_COMMON_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(SERVER_LIBS)
fuzz-smoke: fuzz
	fuzz/smoke.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Static analysis (clang-tidy with .clang-tidy, cppcheck with .cppcheck-suppressions) over
# src/; any finding fails.
lint: deps
	scripts/static-analysis.sh

# The plain server under valgrind memcheck while clients connect, chat and leave; any error
# or leak fails.
valgrind: deps $(BUILD)/tcpchatd
	scripts/valgrind-check.sh $(BUILD)/tcpchatd

# Installation (PREFIX, DESTDIR as usual): the binaries, the man pages, the example config and
# README, the systemd unit (dist/tcpchatd.service.in with the binary's path in it), and in
# SYSCONFDIR/tcpchat the service's config and default MOTD (dist/*.in), which are the
# operator's once there: install never overwrites them and uninstall removes them only when
# unchanged.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/tcpchat
UNITDIR ?= $(PREFIX)/lib/systemd/system
# /etc whatever PREFIX is: the unit reads its config there.
SYSCONFDIR ?= /etc
CONFDIR  = $(SYSCONFDIR)/tcpchat
SUBST    = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g'
MAN1 = man/tcpchat.1 man/tcpchat-bench.1
MAN5 = man/tcpchatd.conf.5
MAN8 = man/tcpchatd.8

.PHONY: install uninstall deb
# The Debian package (debian/): build/deb/tcpchat_VERSION_ARCH.deb, built from a copy of the
# tree by scripts/deb.sh (DEB_OUT to put it elsewhere).
DEB_OUT ?= build/deb
deb:
	scripts/deb.sh $(DEB_OUT)

install: $(BINARIES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 $(BUILD)/tcpchat $(BUILD)/tcpchat-bench $(DESTDIR)$(BINDIR)/
	install -m 755 $(BUILD)/tcpchatd $(DESTDIR)$(SBINDIR)/
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 tcpchatd.conf.example README.md $(DESTDIR)$(DOCDIR)/
	$(SUBST) dist/tcpchatd.service.in > $(DESTDIR)$(UNITDIR)/tcpchatd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/tcpchatd.service
	install -d $(DESTDIR)$(CONFDIR)
	[ -e $(DESTDIR)$(CONFDIR)/tcpchatd.conf ] || { $(SUBST) dist/tcpchatd.conf.in \
		> $(DESTDIR)$(CONFDIR)/tcpchatd.conf && chmod 640 $(DESTDIR)$(CONFDIR)/tcpchatd.conf; }
	[ -e $(DESTDIR)$(CONFDIR)/tcpchatd.motd ] || { $(SUBST) dist/tcpchatd.motd.in \
		> $(DESTDIR)$(CONFDIR)/tcpchatd.motd && chmod 644 $(DESTDIR)$(CONFDIR)/tcpchatd.motd; }

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tcpchat $(DESTDIR)$(BINDIR)/tcpchat-bench \
		$(DESTDIR)$(SBINDIR)/tcpchatd $(DESTDIR)$(UNITDIR)/tcpchatd.service \
		$(MAN1:man/%=$(DESTDIR)$(MANDIR)/man1/%) $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%) \
		$(MAN8:man/%=$(DESTDIR)$(MANDIR)/man8/%) \
		$(DESTDIR)$(DOCDIR)/tcpchatd.conf.example $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(DOCDIR)
	for f in tcpchatd.conf tcpchatd.motd; do \
		$(SUBST) dist/$$f.in | cmp -s - $(DESTDIR)$(CONFDIR)/$$f && rm -f $(DESTDIR)$(CONFDIR)/$$f; \
		[ ! -e $(DESTDIR)$(CONFDIR)/$$f ] || echo "kept $(DESTDIR)$(CONFDIR)/$$f (changed since install)"; \
	done
	-rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null

FORMAT_FILES = $(wildcard src/*/*.c src/*/*.h src/server/*/*.c src/server/*/*.h tests/unit/*.c tests/inproc/*.c tests/inproc/*.h fuzz/*.c)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(COMMON_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(BENCH_OBJ:.o=.d)
-include $(FUZZ_COMMON_OBJ:.o=.d) $(FUZZ_SERVER_OBJ:.o=.d) $(FUZZ_INPROC_OBJ:.o=.d) $(INPROC_OBJ:.o=.d)
