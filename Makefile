# trueopen: the two commands of the quick start, and the build underneath.
#   make         build build/trueopen
#   make demo    install what is needed, build, run the demo on SQLite
#   make check   install what is needed, build, run every test tier but the long benchmarks
#   make asan    unit tests and fuzz replays under ASan+UBSan (part of check)
#   make fuzz    libFuzzer targets (clang), run briefly
JOBS ?= 2
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo check unit asan fuzz format lint docs clean bench

all: build

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

deps:
	@bash scripts/deps.sh

demo: deps build
	@bash scripts/demo.sh

check: deps build lint asan
	@cd build && ctest --output-on-failure -j$(JOBS) --timeout 900

unit: build
	@cd build && ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz'

asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTO_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS) -L 'unit|fuzz'

fuzz:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTO_FUZZ=ON -DTO_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@bash scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

lint: build
	@bash scripts/check-includes.sh
	@bash scripts/check-format.sh
	@bash scripts/check-docs.sh

docs: build
	@build/trueopen config docs > docs/config.md

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 'bench/*.h')

bench: build
	@for b in bench/*.sh; do bash $$b; done

clean:
	rm -rf build build-asan build-fuzz
