# distillguard: the two commands a newcomer needs are `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
UPSTREAM ?=
CONFIG ?= deploy/distillguard.yaml
CTEST_ARGS ?=

.PHONY: all deps build run test test-asan test-tsan bench eval fuzz soak clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	UPSTREAM="$(UPSTREAM)" BUILD_DIR="$(BUILD_DIR)" CONFIG="$(CONFIG)" ./scripts/run.sh

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# ASan+UBSan over every test (unit, integration, fuzz corpora). RelWithDebInfo,
# not Debug: unoptimised Beast is slow enough to trip the integration tests'
# timeouts, and -O2 keeps the ASan run inside CI's time.
# ASan, LSan and TSan reports go to files under <build dir>/sanitizer-logs
# (log_path), and a report there fails the target even when ctest passed: the
# integration scripts start the gateway and the mock upstream as child processes
# and most do not check how those exit, so a leak report at a clean exit would
# pass unseen. (GCC's UBSan ignores log_path when combined with ASan; it halts
# the process instead, which the test sees as its gateway dying.)
san_env = ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=0:log_path=$(1)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0:log_path=$(1)/lsan \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/sanitizers/tsan.supp:log_path=$(1)/tsan

# $(call san_ctest,<build dir>,<ctest arguments>): ctest with the sanitizer
# environment, then every report left in <build dir>/sanitizer-logs printed.
define san_ctest
	rm -rf $(CURDIR)/$(1)/sanitizer-logs && mkdir -p $(CURDIR)/$(1)/sanitizer-logs
	cd $(1) && $(call san_env,$(CURDIR)/$(1)/sanitizer-logs) ctest --output-on-failure -j $(JOBS) $(2) $(CTEST_ARGS); \
	rc=$$?; logs=$$(ls $(CURDIR)/$(1)/sanitizer-logs); \
	if [ -n "$$logs" ]; then for f in $$logs; do echo "==== $(1)/sanitizer-logs/$$f"; cat "$(CURDIR)/$(1)/sanitizer-logs/$$f"; done; \
	  echo "sanitizer reports above (in $(1)/sanitizer-logs)"; exit 1; fi; exit $$rc
endef

test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	$(call san_ctest,build-asan,)

# TSan over every test: the units exercise the queues, the verdict table, the
# limiter and reload with real threads; the integration tests run the gateway
# itself (I/O threads, analyzer, store writer, reload, shutdown) under TSan.
test-tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	$(call san_ctest,build-tsan,)

bench: build
	BUILD_DIR="$(BUILD_DIR)" ./tests/bench/run_all.sh

eval: build
	BUILD_DIR="$(BUILD_DIR)" ./tests/eval/run_eval.sh

fuzz: deps
	./tests/fuzz/run_fuzz.sh

soak: build
	BUILD_DIR="$(BUILD_DIR)" ./tests/bench/soak.sh

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
