# callerid - one GNU Makefile. `make help` lists the targets.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
FUZZCC  ?= clang

PKGS      := libpcap sqlite3 zlib libcrypto libnl-3.0 libnl-idiag-3.0 libnl-nf-3.0 libnl-route-3.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wconversion
ifeq ($(CI),true)
WARN += -Werror
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

override CPPFLAGS += -Iinclude -D_DEFAULT_SOURCE -MMD -MP
override CFLAGS   += -std=c11 $(WARN) $(PKG_CFLAGS) -fstack-protector-strong -fPIE -pthread
override LDFLAGS  += -pie -Wl,-z,relro,-z,now -pthread

ifeq ($(SANITIZE),1)
BUILD := build/san
override CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
else
BUILD := build/rel
override CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o
BIN      := $(BUILD)/callerid
LIBA     := $(BUILD)/libcallerid.a

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
# Allocation-failure injection (tests/oom): callerid's own allocations are
# routed through the harness with --wrap.
OOM_BIN  := $(BUILD)/oom/oom_harness
OOM_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
TOOL_SRC := $(sort $(wildcard bench/*.c))
TOOL_BIN := $(TOOL_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps check bench fuzz lint format install uninstall clean demo help tests

all: $(BIN) callerid

# The binary of the last plain build, at the top for convenience.
callerid: $(BIN)
	@if [ "$(SANITIZE)" != 1 ]; then ln -sf $(BIN) callerid; fi

deps:
	@sh scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIBA)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS) -lm

$(BUILD)/fuzz-replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay_main.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(OOM_BIN): $(BUILD)/tests/oom/oom_harness.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $(OOM_WRAP) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

tests: $(BIN) $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN) $(OOM_BIN)

# The README's test command. Installs what is missing first.
check: deps
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) CALLERID=$(abspath $(BIN)) SANITIZE=$(SANITIZE) sh tests/run.sh

# libFuzzer harnesses (clang, ASan+UBSan) in build/fuzz/.
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZCC) -Iinclude -D_DEFAULT_SOURCE -std=c11 $(PKG_CFLAGS) $(FUZZFLAGS) -c -o $@ $<
build/fuzz/%: build/fuzz/tests/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZCC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

bench: deps
	@$(MAKE) --no-print-directory all $(TOOL_BIN)
	@BUILD=$(BUILD) CALLERID=$(abspath $(BIN)) sh scripts/bench.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@CALLERID=$(abspath $(BIN)) sh scripts/demo.sh

lint: deps
	@sh scripts/lint.sh

format:
	clang-format -i $(LIB_SRC) src/main.c include/callerid/*.h tests/unit/*.c tests/fuzz/*.c

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/callerid

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/callerid

clean:
	rm -rf build callerid

help:
	@echo "make [all|check|check SANITIZE=1|bench|fuzz|lint|demo|install|clean]"

-include $(shell find build -name '*.d' 2>/dev/null)
