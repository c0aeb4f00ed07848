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
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/sanitizers/tsan.supp

test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	cd build-asan && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# TSan over the unit tests: the queues, the verdict table, the limiter and
# reload are exercised there with real threads.
test-tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) -L 'unit' $(CTEST_ARGS)

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
