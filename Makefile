# herald — build, test, bench, install.
#
#   make            build/herald (and build/libherald.a, which the tests link)
#   make test       check-layers, then the unit and integration tests (cmocka),
#                   warnings are errors
#   make check-layers  every include follows the layers of docs/ARCHITECTURE.md
#   make asan       the same tests under AddressSanitizer + UBSan (build-asan/)
#   make valgrind   the unit tests under valgrind's memcheck
#   make bench      benchmarks, each a ratio to a reference measured in the same run,
#                   and instructions per message from callgrind
#   make demo       set everything up and run the main job end to end
#   make deps       install the Debian packages the build, tests and bench need
#   make install    PREFIX=/usr/local DESTDIR= (and SYSCONFDIR, DATADIR, LOCALSTATEDIR,
#                   SYSTEMDUNITDIR, SYSUSERSDIR); the binary is built with these
#                   folders compiled in (README "Install")
#   make man        the man pages (docs/man/*.scd, with scdoc) into build/man
#   make install-extras  man pages and bash and zsh completion (install does it too)
#   make deb        build/herald_VERSION_ARCH.deb (scripts/mkdeb.sh), checked by lintian
#   make format     clang-format every source file

PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= $(PREFIX)/etc
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
LOCALSTATEDIR ?= $(PREFIX)/var
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BINDIR := $(PREFIX)/bin
STATEDIR := $(LOCALSTATEDIR)/lib/herald

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := sqlite3 libpq jansson icu-uc icu-i18n openssl libcurl libsystemd libmicrohttpd libargon2
TEST_PKGS := cmocka

# Debian packages: build, tests, bench.
DEB_PKGS := build-essential pkg-config libsqlite3-dev sqlite3 libjansson-dev \
            libicu-dev libssl-dev libcmocka-dev libcurl4-openssl-dev libmicrohttpd-dev python3-prometheus-client valgrind \
            clang libclang-rt-14-dev openssl python3 python3-aiosmtpd postfix \
            nodejs nginx-light wrk chromium fonts-wqy-zenhei \
            scdoc man-db lintian zsh bash-completion dpkg-dev \
            libsystemd-dev systemd libargon2-dev postgresql libpq-dev

B ?= build
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wwrite-strings -Wvla -fno-common -Werror
OPT ?= -O2 -g
SAN ?=
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L $(OPT) $(SAN) $(WARN) -Iinclude \
             $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(CFLAGS)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

LIB_SRC := $(sort $(wildcard src/core/*.c src/store/*.c src/audience/*.c src/template/*.c \
             src/schedule/*.c src/dispatch/*.c src/channel/*.c src/audit/*.c \
             src/serve/*.c) \
             $(filter-out src/cli/main.c,$(wildcard src/cli/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(B)/obj/$(B)/gen/openapi.o $(B)/obj/$(B)/gen/bounce_rules.o
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
# test programs run at once (most of their time they wait on the servers
# and processes they start): on the 2-core machine, with the PostgreSQL
# runs of every store test, 3 at a time took 10 min 57 s where 2 took
# 13 min 42 s (both beside other work)
TEST_JOBS ?= 3
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

.PHONY: all check-layers test asan valgrind bench proof demo deps install format clean check-deps fuzz \
        man install-extras deb FORCE
all: check-deps $(B)/herald

check-deps:
	@$(PKG_CONFIG) --exists $(PKGS) $(TEST_PKGS) || { \
	  echo "herald: missing libraries ($(PKGS) $(TEST_PKGS)); run 'make deps' first" >&2; \
	  exit 1; }

# The API's OpenAPI document goes into the binary (GET /api/v1/openapi.json
# serves it; installed with it): docs/api/openapi.json as C strings.
$(B)/gen/openapi.c: docs/api/openapi.json scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh hd_api_openapi $< > $@.tmp
	mv $@.tmp $@

# The default bounce rules too: a herald run from another folder than the
# source tree's (or installed without its data) still classifies bounces by
# them, never treating every 5xx as hard.
$(B)/gen/bounce_rules.c: etc/bounce-rules.tsv scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh hd_bounce_rules_builtin $< > $@.tmp
	mv $@.tmp $@

# Every file of src/ is compiled behind include/herald/banned.h, which makes
# the calls CONVENTIONS.md bans compile errors.
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PATH_CFLAGS) -include herald/banned.h -MMD -MP -c $< -o $@

# The install folders are compiled into two objects only (paths.c, and
# main.c's help text); the stamp holds them, and changes (so that these two
# are rebuilt) only when a folder does.
PATH_OBJ := $(B)/obj/src/core/paths.o $(B)/obj/src/cli/main.o
$(PATH_OBJ): $(B)/paths.stamp
$(PATH_OBJ): PATH_CFLAGS = -DHD_BINDIR='"$(BINDIR)"' -DHD_SYSCONFDIR='"$(SYSCONFDIR)"' \
  -DHD_DATADIR='"$(DATADIR)"' -DHD_LOCALSTATEDIR='"$(LOCALSTATEDIR)"' \
  -DHD_SYSCONF_PATH='"$(SYSCONFDIR)/herald/herald.conf"'
$(B)/paths.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(BINDIR) $(SYSCONFDIR) $(DATADIR) $(LOCALSTATEDIR)' | cmp -s - $@ || \
	  echo '$(BINDIR) $(SYSCONFDIR) $(DATADIR) $(LOCALSTATEDIR)' > $@

# wire.c reads Retry-After dates with strptime and timegm; glibc reads
# _GNU_SOURCE at the first system header, which banned.h includes, so it is
# defined here, not in the file
%/wire.o: CFLAGS += -D_GNU_SOURCE

$(B)/libherald.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/herald: $(B)/obj/src/cli/main.o $(B)/libherald.a
	$(CC) $(OPT) $(SAN) -o $@ $^ $(LIBS) $(LDFLAGS)

$(B)/tests/%: tests/%.c tests/testutil.h $(B)/libherald.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) -MMD -MP -o $@ $< $(B)/libherald.a $(LIBS) $(TEST_LIBS)

$(B)/bench/%: bench/%.c $(B)/libherald.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libherald.a $(LIBS)

# Every test binary runs even after a failure, TEST_JOBS at a time
# (scripts/run-tests.sh: each program's output printed whole, in order);
# the exit status says whether any failed. HERALD_BIN lets integration
# tests run the real binary. One
# throwaway PostgreSQL server (tests/pgserver.sh) serves the whole suite, its
# connection string in HERALD_TEST_PG; the trap stops it and removes its
# folder however the run ends.
test: deps check-layers all $(TEST_BIN)
	@# the browser programs run side by side, and so may the two that check
	@# the OpenAPI document: install their npm packages once, first
	@[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund >/dev/null)
	@[ -d tests/openapi/node_modules/ajv ] || (cd tests/openapi && npm ci --no-audit --no-fund >/dev/null)
	@pgdir=$$(mktemp -d /tmp/herald-pg.XXXXXX); \
	trap 'sh tests/pgserver.sh stop "$$pgdir"' EXIT INT TERM; \
	HERALD_TEST_PG=$$(sh tests/pgserver.sh start "$$pgdir") || exit 1; \
	export HERALD_TEST_PG HERALD_BIN=$(CURDIR)/$(B)/herald HERALD_SRC=$(CURDIR); \
	bash scripts/run-tests.sh $(B)/test-output/logs $(TEST_JOBS) "$(TEST_WRAP)" $(TEST_BIN)

# Issue 23's crash proof at full size: tests/test_pg_proof_smtp (three
# herald run nodes, the SMTP test server, kills and freezes) with
# PROOF_MESSAGES contacts; make test runs it with 6,000.
PROOF_MESSAGES ?= 20000
proof: deps all $(B)/tests/test_pg_proof_smtp
	@pgdir=$$(mktemp -d /tmp/herald-pg.XXXXXX); \
	trap 'sh tests/pgserver.sh stop "$$pgdir"' EXIT INT TERM; \
	HERALD_TEST_PG=$$(sh tests/pgserver.sh start "$$pgdir") || exit 1; \
	export HERALD_TEST_PG HERALD_BIN=$(CURDIR)/$(B)/herald HERALD_SRC=$(CURDIR) \
	  HERALD_PROOF_MESSAGES=$(PROOF_MESSAGES); \
	./$(B)/tests/test_pg_proof_smtp

# The folder tree is the dependency graph (docs/ARCHITECTURE.md); the check
# first proves on a copy of the tree that it catches a bad include.
check-layers:
	@python3 scripts/check-layers.py --selftest .

asan:
	$(MAKE) B=build-asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

valgrind: all $(TEST_BIN)
	$(MAKE) test TEST_WRAP="valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite"

bench: deps all $(BENCH_BIN)
	@bash bench/run.sh $(B)
	@bash bench/pg.sh $(B)
	@bash bench/callgrind.sh $(B)
	@bash bench/scale.sh $(B)

demo: deps all
	@bash scripts/demo.sh $(B)/herald

# libFuzzer targets (tests/fuzz/fuzz_*.c), each run for FUZZ_SECONDS from
# its seed corpus; new inputs go to build-fuzz/corpus, crashes to build-fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz: deps
	$(MAKE) B=build-fuzz CC=clang OPT="-O1 -g" SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  build-fuzz/libherald.a
	@set -e; for f in $(wildcard tests/fuzz/fuzz_*.c); do \
	  name=$$(basename $$f .c); name=$${name#fuzz_}; \
	  clang $(filter-out -fno-common,$(CFLAGS_ALL)) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer \
	    -o build-fuzz/fuzz_$$name $$f build-fuzz/libherald.a $(LIBS); \
	  mkdir -p build-fuzz/corpus/$$name; \
	  echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	  ./build-fuzz/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus/$$name tests/fuzz/corpus/$$name; \
	done

# Installs what is missing, and nothing when everything is there.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || \
	    missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "postfix postfix/main_mailer_type select No configuration" | \
	    $$SUDO debconf-set-selections; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    $$missing >/dev/null; \
	else echo "make deps: everything is installed"; fi

# The configuration is installed with absolute paths (the state folder,
# DATADIR's templates), and only where none exists: an existing one is kept
# and the new one written beside it as herald.conf.new. The unit runs the
# installed binary; the state folder is created.
CONF_SUBST := -e 's|^database = var/herald.db$$|database = $(STATEDIR)/herald.db|' \
  -e 's|^templates = templates$$|templates = $(DATADIR)/herald/templates|' \
  -e 's|^path = var/outbox$$|path = $(STATEDIR)/outbox|' \
  -e 's|^secret_file = var/herald.secret$$|secret_file = $(STATEDIR)/herald.secret|'
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/herald \
	  $(DESTDIR)$(DATADIR)/herald/templates/partials $(DESTDIR)$(SYSTEMDUNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR)
	install -d -m 750 $(DESTDIR)$(STATEDIR)
	install -m 755 $(B)/herald $(DESTDIR)$(BINDIR)/herald
	cp -R templates/. $(DESTDIR)$(DATADIR)/herald/templates/
	install -m 644 etc/bounce-rules.tsv $(DESTDIR)$(DATADIR)/herald/bounce-rules.tsv
	sed $(CONF_SUBST) etc/herald.conf > $(B)/herald.conf.installed
	@grep -q '^database = $(STATEDIR)/herald.db$$' $(B)/herald.conf.installed && \
	  grep -q '^path = $(STATEDIR)/outbox$$' $(B)/herald.conf.installed && \
	  grep -q '^secret_file = $(STATEDIR)/herald.secret$$' $(B)/herald.conf.installed || \
	  { echo "make install: etc/herald.conf lost its default paths" >&2; exit 1; }
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf ]; then \
	  echo "make install: keeping $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf;" \
	    "the new example is herald.conf.new"; \
	  install -m 644 $(B)/herald.conf.installed $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf.new; \
	else install -m 644 $(B)/herald.conf.installed $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf; fi
	sed -e 's|/usr/bin/herald|$(BINDIR)/herald|g' -e 's|/var/lib/herald|$(STATEDIR)|g' \
	  etc/herald.service > $(B)/herald.service.installed
	install -m 644 $(B)/herald.service.installed $(DESTDIR)$(SYSTEMDUNITDIR)/herald.service
	sed -e 's|/var/lib/herald|$(STATEDIR)|g' etc/herald.sysusers > $(B)/herald.sysusers.installed
	install -m 644 $(B)/herald.sysusers.installed $(DESTDIR)$(SYSUSERSDIR)/herald.conf

# Man pages: scdoc sources in docs/man, pages in $(B)/man. `all` does not
# need scdoc; install-extras does.
MAN_SRC := $(sort $(wildcard docs/man/*.scd))
MAN_PAGES := $(MAN_SRC:docs/man/%.scd=$(B)/man/%)
man: $(MAN_PAGES)

$(B)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# What `install` adds to the binary, configuration and templates: the man
# pages and shell completion. Its own target (and a prerequisite-only line)
# so that it stays apart from the install recipe.
install: install-extras
install-extras: man
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/vendor-completions
	install -m 644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 etc/completion/herald.bash \
	  $(DESTDIR)$(DATADIR)/bash-completion/completions/herald
	install -m 644 etc/completion/_herald $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_herald

# A Debian package: a build of its own for the system's paths (the paths are
# compiled in), installed into a staging folder, then packed by
# scripts/mkdeb.sh (control files in debian/) and checked with lintian.
DEB_DIR := $(B)/deb
deb: check-deps
	rm -rf $(DEB_DIR)/root $(DEB_DIR)/herald $(DEB_DIR)/man
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
	export SOURCE_DATE_EPOCH=$$(dpkg-parsechangelog -l packaging/deb/changelog -STimestamp); \
	CFLAGS="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" $(MAKE) B=$(DEB_DIR) PREFIX=/usr SYSCONFDIR=/etc LOCALSTATEDIR=/var \
	  SYSTEMDUNITDIR=/lib/systemd/system DESTDIR=$(CURDIR)/$(DEB_DIR)/root install
	SOURCE_DATE_EPOCH=$$(dpkg-parsechangelog -l packaging/deb/changelog -STimestamp) \
	  bash scripts/mkdeb.sh $(DEB_DIR)/root $(B)
	lintian --fail-on error $(B)/herald_*.deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(B)/obj/src/cli/main.d $(TEST_BIN:=.d)
