# hotbox: the two commands a newcomer needs.
#   make run    install what is missing, build, start watch mode on examples/
#   make test   install what is missing, build, run every test
# Other targets: build, demo, asan, fuzz, bench, install, example-suite, clean.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
PREFIX     ?= $(CURDIR)/$(BUILD)/stage
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build run demo test test-only asan fuzz bench install example-suite clean

all: build

deps:
	@bash scripts/install-deps.sh
	@bash scripts/fetch-guest-kernel.sh || echo "make: guest kernel not fetched; microvm isolation will be unavailable (see above)" >&2

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/hotbox --state-dir $(BUILD)/run-state watch examples/plugins

demo: build
	$(BUILD)/bin/hotbox demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DHOTBOX_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) --timeout 900 -LE microvm

# libFuzzer targets (clang), each run for HOTBOX_FUZZ_SECONDS.
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DHOTBOX_FUZZ=ON \
	  -DHOTBOX_FUZZ_SECONDS=$${HOTBOX_FUZZ_SECONDS:-60}
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzzers
	ctest --test-dir $(BUILD_FUZZ) --output-on-failure -L fuzz_run

bench: build
	@for b in $(BUILD)/bin/bench_*; do echo "== $$b"; $$b || exit 1; done

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
