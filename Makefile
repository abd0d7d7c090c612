# make bench  - benchmark the engines on the shipped programs
# make test   - run the test suite
# Both create .venv on first use (scripts/bootstrap.sh).

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped

.PHONY: bench test clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	./scripts/bootstrap.sh
	touch $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/bpfjit bench-suite

# the engine tests run once more on peachpy under each of 3 rotated register maps;
# pytest-xdist spreads the tests over every core (TEST_JOBS=1 runs them in one process)
TEST_JOBS ?= logical
test: $(STAMP)
	$(PY) -m pytest --register-rotations 3 $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS))

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Rebuild the eBPF object files the tests load (tests/elf/*.c -> *.o; needs clang with the
# BPF target).  -g for BTF; the prefix map keeps this machine's paths out of the objects.
# Sources named *_v1.c are built for clang's oldest CPU, v1 (no 32-bit jumps or ALU),
# the code older clangs emit by default; the others for v3.
ELF_SOURCES := $(wildcard tests/elf/*.c)
# Regenerate docs/helpers.md from the helper registry.
.PHONY: docs
docs: $(STAMP)
	$(PY) -m bpfjit helpers --markdown > docs/helpers.md

# A long differential campaign, resumable: stop it with Ctrl-C, run it again to go on.
# FUZZ_ENGINES adds e.g. the kernel (interp,llvm,peachpy,kernel, as root).
FUZZ_JOBS ?= $(shell nproc)
FUZZ_EXAMPLES ?= 1000000
.PHONY: fuzz-campaign
fuzz-campaign: $(STAMP)
	$(VENV)/bin/bpfjit fuzz --examples $(FUZZ_EXAMPLES) --jobs $(FUZZ_JOBS) \
		--state fuzz-campaign $(if $(FUZZ_ENGINES),--engines $(FUZZ_ENGINES))

# Regenerate bpfjit/_ffi.py (cffi's out-of-line ABI module) from bpfjit/ffidefs.py.
.PHONY: ffi
ffi: $(STAMP)
	$(PY) -W ignore -c "from bpfjit.ffidefs import generate; generate('bpfjit/_ffi.py')"

.PHONY: elf-fixtures
elf-fixtures:
	cd tests/elf && for src in $(notdir $(ELF_SOURCES)); do \
		case $$src in *_v1.c) cpu=v1;; *) cpu=v3;; esac; \
		clang -O2 -g -target bpf -mcpu=$$cpu -ffile-prefix-map=$(CURDIR)/tests/elf=. \
			-fdebug-compilation-dir=. -c $$src -o $${src%.c}.o || exit 1; \
	done

# Rebuild the example firewall's object (needs clang with the BPF target)
.PHONY: examples
examples:
	cd examples/firewall && clang -O2 -g -target bpf -mcpu=v3 -fdebug-compilation-dir=. \
		-c firewall.c -o firewall.o

# Rebuild the benchmark bytecode from bench/c/*.c and bench/xdp/*.c (needs clang with
# the BPF target)
# and the input buffers.
.PHONY: bench-programs
bench-programs: $(STAMP)
	$(PY) bench/build.py
	$(PY) bench/make_inputs.py

# Rebuild the corpus of programs written away from the engines (corpus/*/*.c -> *.o), the
# plain programs' inputs and their expected results from the same C compiled natively
# (needs clang with the BPF target); `corpus-measure` prints the verifier's figures on it,
# `corpus-speed` the JITs' run time against native on fixed and on varied inputs (needs a
# C compiler; about 4 minutes).
.PHONY: corpus corpus-measure corpus-speed
corpus: $(STAMP)
	$(PY) corpus/build.py

corpus-measure: $(STAMP)
	$(PY) corpus/measure.py

corpus-speed: $(STAMP)
	$(PY) corpus/speed.py

# The README's picture of the explorer page (needs Chromium: apt-get install chromium)
.PHONY: explorer-screenshot
explorer-screenshot: $(STAMP)
	$(PY) scripts/explorer_screenshot.py
