# basin -- one GNU Makefile.
#   make            build ./basin
#   make run        the demo: experiments/quickstart.ini into results/basin.db and PNGs
#                   (installs missing Debian packages first)
#   make test       build and run every test program, the CLI tests and every experiment
#                   file at a tiny size (test-experiments)
#   make test-science  the published phenomena at full size (tests/science/)
#   make experiments   the whole suite experiments/*.ini into results/basin.db
#   make test-conformance  optimizers step by step, cnn/resnet loss and gradient, against PyTorch
#   make test-conv-train   cnn beats the MLP on Fashion-MNIST; resnet trains with and without skips
#   make bench      benchmarks beside PyTorch (bench/README.md)
#   make san        the test suite (unit, CLI, runner, bad inputs) under AddressSanitizer + UBSan
#   make test-faults  kill -9 during a sweep, read-only and full disks, two runners at once
#   make test-slurm   experiments/slurm/ on a single-node Slurm on localhost (slurm-wlm, munge; root)
#   make valgrind   representative basin commands under valgrind (errors and leaks)
#   make fuzz       each libFuzzer target (tests/fuzz/) for FUZZ_SECONDS (60); fuzz-ci: 20 s each
# Objects go to build/ (build/san/ for sanitizer builds, build/fuzz/ for clang fuzz builds).

CC      ?= cc
CFLAGS  ?= -O2 -g
# override: `make CFLAGS=...` (san, fuzz) adds its flags to these, never drops them
WFLAGS  ?= -Wall -Wextra -Werror
# GCC: the vectorizer's own cost model instead of -O2's "very cheap" one, which skips
# every loop that needs a run-time aliasing check (all of core's elementwise loops);
# compilers that do not know the flag (clang, for the fuzz builds) go without
VECFLAGS := $(shell $(CC) -fvect-cost-model=dynamic -E -x c /dev/null >/dev/null 2>&1 && echo -fvect-cost-model=dynamic)
# -Wvla: no variable-length arrays anywhere (a length from the input overflowed the stack:
# issue 18); with -Werror it fails the build
override CFLAGS += -std=c11 -D_POSIX_C_SOURCE=200809L $(WFLAGS) -Wvla -pthread $(VECFLAGS)
# -u pool_threads: core/pool.o in every executable that links libbasin.a, whether or not
# it calls the pool, for its .preinit_array entry (OpenBLAS on one thread before its
# constructor starts a pool of its own; core/pool.c)
LDLIBS  += -Wl,-u,pool_threads -llbfgsb -lgsl -lopenblas -lsqlite3 -lz -lm -pthread
BUILD   ?= build
# the command the tests run (make san: build/san/basin, leaving ./basin as it is)
BIN     ?= basin
DEPS    := scripts/deps.sh

MODULES := core models optim probes experiments results plots
LIBSRC  := $(filter-out experiments/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o)
TESTSRC := $(wildcard tests/test_*.c)
TESTBIN := $(TESTSRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all run test test-unit test-cli test-runner test-bad test-experiments test-science experiments test-faults test-slurm valgrind fuzz fuzz-ci test-conformance test-conv-train bench bench-optim bench-conv san deps clean
.SECONDARY: $(TESTBIN:=.o)   # keep test objects between builds
all: $(BIN)

deps:
	@sh $(DEPS) build

# The commit runs record: `git describe --always --dirty`, or "unknown" outside git.
# $(BUILD)/git-describe changes only when it does, and runner.o is rebuilt then.
GIT_DESC := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(shell mkdir -p $(BUILD) && (echo '$(GIT_DESC)' | cmp -s - $(BUILD)/git-describe || echo '$(GIT_DESC)' >$(BUILD)/git-describe))
$(BUILD)/experiments/runner.o: $(BUILD)/git-describe
$(BUILD)/experiments/runner.o: override CFLAGS += -DBASIN_GIT='"$(GIT_DESC)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbasin.a: $(LIBOBJ)
	ar rcs $@ $^

$(BIN): $(BUILD)/experiments/main.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# the demo: experiments/quickstart.ini (SGD vs SAM vs AdEMAMix on Fashion-MNIST with the
# sharpness tracked) into results/basin.db, then neural-collapse metrics and a 2-D
# landscape of the SGD run's final weights, and the figures, into results/quickstart/
DEMO := results/quickstart
run: deps
	@$(MAKE) --no-print-directory basin
	./basin run experiments/quickstart.ini --db results/basin.db
	@sgd=$$(sqlite3 results/basin.db "SELECT run FROM runs_wide WHERE experiment = 'quickstart' \
	    AND optim = 'sgd' AND status = 'COMPLETED' LIMIT 1" | cut -c1-12); \
	echo "neural collapse of the SGD run $$sgd (2000 training images) -> $(DEMO)/collapse.txt"; \
	./basin collapse --init $$sgd --db results/basin.db --samples 2000 >$(DEMO)/collapse.txt && \
	grep -E '^(nc1|nc2_equinorm_means|nc3|nc4|train_error)=' $(DEMO)/collapse.txt && \
	echo "2-D filter-normalized landscape of $$sgd, 21 x 21 on [-1, 1]^2, 2000 images -> $(DEMO)/landscape.png" && \
	./basin landscape --init $$sgd --db results/basin.db --samples 2000 --x -1:1:21 --y -1:1:21 \
	    --out $(DEMO)/landscape.csv >/dev/null && \
	./basin plot landscape --db results/basin.db --run $$sgd --out $(DEMO)/landscape.png
	@echo; echo "results: results/basin.db (SQLite; schema and queries in results/README.md), figures in $(DEMO)/"; \
	echo "  ./basin runs --experiment quickstart"; \
	echo "  ./basin compare --experiment quickstart --by optim --metric test_acc"; \
	echo "  sqlite3 results/basin.db \"SELECT w.optim, m.step, m.value FROM metrics m JOIN runs_wide w ON w.run = m.run WHERE m.key = 'lambda_max' ORDER BY 1, 2\""; \
	./basin compare --experiment quickstart --by optim --metric test_acc --db results/basin.db

test: deps
	@$(MAKE) --no-print-directory test-unit test-cli test-runner test-bad test-experiments

# every experiments/*.ini at a tiny size (basin run --set): runs, records, renders;
# then each file as shipped for 2 steps against the full runs' recorded batch losses
test-experiments: $(BIN)
	@sh tests/science/tiny.sh ./$(BIN)
	@sh tests/science/recorded.sh check ./$(BIN)

# the published phenomena at full size (tests/science/*.sh; stores and figures in
# build/science, completed runs kept, so a rerun only re-checks): README, "Experiments"
test-science: $(BIN)
	@sh tests/science/run.sh

# the whole suite of experiment files into results/basin.db
experiments: $(BIN)
	@for f in experiments/*.ini; do ./$(BIN) run $$f --db results/basin.db || exit $$?; done

test-unit: $(BIN) $(TESTBIN)
	@sh tests/run_unit.sh $(TESTBIN)

test-cli: $(BIN)
	@sh tests/test_cli.sh ./$(BIN)

# experiment files, basin run (workers, kill -9 and SIGTERM resume), merge, queries
test-runner: $(BIN)
	@sh tests/test_runner.sh ./$(BIN)

# tests/bad/catalogue.tsv: one malformed input per line, its exit code and message
test-bad: $(BIN)
	@sh tests/test_bad.sh ./$(BIN)

# kill -9 at random points of a sweep, then rerun: integrity, each run once, metrics
# bit-identical; read-only directory and full disk; two `basin run` on one file
test-faults: $(BIN)
	@sh tests/test_faults.sh ./$(BIN)

# a private munged, slurmctld and slurmd on localhost: a 4-task array through
# experiments/slurm/submit.sh, the merge chained afterok, requeue, a failed task, preemption
test-slurm: $(BIN)
	@sh tests/test_slurm.sh ./$(BIN)

# a few representative commands under valgrind --error-exitcode=1 --leak-check=full
valgrind: $(BIN)
	@sh $(DEPS) valgrind
	@sh tests/test_valgrind.sh ./$(BIN)

# libFuzzer targets (clang, address + undefined), each on its seeds tests/fuzz/corpus/NAME;
# new inputs and crash artifacts go to build/fuzz/. gcc's -Werror build is the warnings
# gate: clang warns of other things (op-table rows that leave optional fields zero).
FUZZ         := ini idx csv npy merge
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
fuzz fuzz-ci:
	@sh $(DEPS) fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" \
	    WFLAGS="-Wall -Wextra -Wno-missing-field-initializers" \
	    $(FUZZ:%=build/fuzz/tests/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(if $(filter fuzz-ci,$@),20,$(FUZZ_SECONDS)) $(FUZZ)

.SECONDARY: $(FUZZ:%=$(BUILD)/tests/fuzz/fuzz_%.o) $(BUILD)/tests/fuzz/fuzz_file.o
$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzz_file.o \
                            $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# 100 steps of every optimizer beside torch.optim / transcriptions of the reference
# code, to 1e-9 relative; prints SKIP and succeeds without python3-torch
test-conformance: basin $(BUILD)/tests/conformance/driver
	@sh $(DEPS) conformance || true
	@if [ -x /usr/bin/python3 ]; then /usr/bin/python3 tests/conformance/optim_conformance.py \
	    ./basin $(BUILD)/tests/conformance/driver; else echo "SKIP optimizer conformance: no /usr/bin/python3"; fi
	@if [ -x /usr/bin/python3 ]; then /usr/bin/python3 tests/conformance/conv_conformance.py \
	    ./basin; else echo "SKIP conv conformance: no /usr/bin/python3"; fi

# cnn beats the MLP on Fashion-MNIST 10k after 10 epochs; resnet trains with and
# without skips (about a minute; test_conv runs the small versions)
test-conv-train: basin
	@sh tests/test_conv_train.sh ./basin

bench: deps
	@sh $(DEPS) bench || true
	@$(MAKE) --no-print-directory basin $(BUILD)/bench/bench
	@sh bench/run.sh $(BUILD)/bench/bench

$(BUILD)/bench/bench: $(BUILD)/bench/bench.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# cnn training step and full-batch HVP beside bench/torch_models.py, one thread
bench-conv: deps
	@sh $(DEPS) bench || true
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_conv
	@sh bench/run_conv.sh $(BUILD)/bench/bench_conv

$(BUILD)/bench/bench_conv: $(BUILD)/bench/bench_conv.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# SAM/GAM step cost in gradients, forward gradient's time and workspace vs backprop
bench-optim: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_optim
	$(BUILD)/bench/bench_optim

$(BUILD)/bench/bench_optim: $(BUILD)/bench/bench_optim.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# the top Hessian eigenvalue beside the peer's power iteration (bench/bench_hessian.c)
$(BUILD)/bench/bench_hessian: $(BUILD)/bench/bench_hessian.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# a 21 x 21 loss landscape beside the peer's (bench/bench_landscape.c)
$(BUILD)/bench/bench_landscape: $(BUILD)/bench/bench_landscape.o $(BUILD)/libbasin.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

san: deps
	@$(MAKE) --no-print-directory BUILD=build/san BIN=build/san/basin \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    test-unit test-cli test-runner test-bad

clean:
	rm -rf build basin

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d)   # every object tracks its headers
