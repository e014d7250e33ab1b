# srdpo builds with Go 1.27.3 (fetched by the go command from the module proxy)
# and GOEXPERIMENT=simd, which GoMLX's pure-Go backend needs for its fast
# kernels. A machine starts on an older Go, so every target exports both.
export GOTOOLCHAIN := go1.27.3
export GOEXPERIMENT := simd

GO ?= go
BIN := bin/srdpo

.PHONY: all build test vet lint race fuzz run experiment experiment-exact experiment-replicate bench bench-largest worker clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/srdpo

vet:
	$(GO) vet ./...

# staticcheck (fetched from the module proxy at this version), with
# staticcheck.conf's checks.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) run $(STATICCHECK) ./...

# The race detector on the fast tier: the packages whose tests run in
# seconds under it. The GoMLX-backed ones (model, stages, pipelines, cmd)
# stay out: their kernels fail -race's pointer checks (checkptr, in
# GoMLX's AVX-512 matmul) and building them with -race alone takes
# minutes of the CI budget.
RACE_PKGS = ./atomicfile/... ./bounds/... ./stats/... ./schemas/... ./benchmarks/... ./model/tokenizer/... ./model/chattemplate/...
race:
	$(GO) test -race -short -count=1 $(RACE_PKGS)

# Unit and pipeline tests. Pipelines run on prism, gs:// against an
# in-process fake-gcs-server; nothing reaches the network. Lint and the
# race tier first.
test: vet lint race
	$(GO) test -count=1 -timeout 14m ./...

# Every fuzz target of the parsers of outside files, FUZZTIME each (make
# test runs each on its seeds only). Findings go to the package's
# testdata/fuzz/<Target>, where make test replays them.
FUZZTIME ?= 30s
FUZZ_TARGETS = ./model:FuzzSafetensors ./model:FuzzSafetensorsIndex ./model:FuzzConfigJSON ./model:FuzzCheckpoint \
	./model/chattemplate:FuzzRender \
	./model/tokenizer:FuzzTokenizerJSON ./schemas:FuzzReadFile ./stages:FuzzCorpusRecord \
	./benchmarks:FuzzBenchmarkDocument ./stages:FuzzCorpusParquet
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) || exit 1; done

# The end-to-end job on the embedded known-reward task: make run SEEDS=3.
SEEDS ?= 1
run: build
	$(BIN) run --out out --seeds $(SEEDS)

# The experiment of the README's results: 5 seeds × label temperatures
# 0.03, 0.1, 0.3 × λ 0, 0.5, 1, 2 (β 0.1), every method along 200 steps,
# on the task's default design (p⊕x's SFT responses with at most one
# corruption). experiment-exact is the same grid on the first design (exact
# answers on p⊕x). Each prints its estimated time first; each runs with
# --resume, so after an interruption the same command keeps the seeds
# already finished (remove the output folder to start over).
EXPERIMENT_SEEDS ?= 5
EXPERIMENT_GRID = --seeds $(EXPERIMENT_SEEDS) --temperature 0.03,0.1,0.3 --lambda 0,0.5,1,2 --parallel 2 --resume
experiment: build
	$(BIN) run --out out/experiment $(EXPERIMENT_GRID)

experiment-exact: build
	$(BIN) run --out out/experiment-exact --aug-corruptions 0 $(EXPERIMENT_GRID)

# The replication of the one cell where a self-refining method came out
# ahead (Sr-IPO at label temperature 0.3) on 10 fresh seeds, 6 to 15
# (half the experiment's cells, twice its seeds).
experiment-replicate: build
	$(BIN) run --out out/replication --first-seed 6 --seeds 10 --temperature 0.3 --lambda 0.5,1,2 --parallel 2 --resume

# Performance figures, one JSON object per line, also in out/bench.json.
bench: build
	$(BIN) bench --out out/bench.json
	@py=$$(for p in python3 /usr/bin/python3; do $$p -c 'import torch' 2>/dev/null && echo $$p && break; done); \
	if [ -n "$$py" ]; then $$py bench/pytorch_mix.py --figures out/bench.json --config 256 --config gpt2-small | tee out/bench-pytorch.jsonl; \
	$$py bench/pytorch_train_memory.py | tee -a out/bench-pytorch.jsonl; \
	else echo "bench/pytorch_mix.py skipped: no python3 with torch (apt-get install python3-torch libopenblas0-pthread)"; fi

# The largest released shapes that train a Sr-DPO step here, full and
# LoRA, each in its own process (about half an hour; README, Training
# memory). A group the kernel kills for memory is reported as not fitting.
bench-largest: build
	$(BIN) bench --runs 1 --out out/bench-largest.json --figures $$($(BIN) bench --list | grep '^largest-' | paste -sd,)

# A linux/amd64 worker binary for Dataflow, cgo off.
worker:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o bin/srdpo-worker-linux-amd64 ./cmd/srdpo

clean:
	rm -rf bin out
