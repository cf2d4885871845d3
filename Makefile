# EKD — the commands a user and CI run. `make help` lists them.
SWIFT      ?= swift
THREADS    ?= 2
SUDO       := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := pkg-config libopenblas-dev liblapacke-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev python3-venv libopenmpi-dev openmpi-bin
# Every build enables the MPI trait (data-parallel `mpirun -np N ekd train`), so that
# build, test and bench share one .build; a plain `swift build` has no MPI dependency.
TRAITS     ?= --traits MPI
# Tests run optimised: numeric kernels are 10-50x slower in debug builds.
TEST_FLAGS ?= -c release $(TRAITS)

.PHONY: help setup build test format bench peers run paper paper-capture paper-uniform fuzz clean

# The main job: train the demo student (`small`, 64² crops) in the baseline and
# in full EKD on synthetic hands rendered fresh for every step, then test both
# on the fixed test split (1,000 images, seed 3; `ekd synth --seed 3` writes the
# same images). Defaults (λs, learning rate, warm-up, steps) were chosen on the
# validation split: docs/results.md.
RUN_DIR   ?= runs
RUN_STEPS ?= 3000
# The paper's experiment (docs/results.md): TS500M at 64², four modes × three seeds, for each
# view model. The twelve cells of a view model are shared out over PAPER_RANKS one-thread
# processes (mpirun; ~265 img/s each here, against ~366 for one process of two threads).
# Steps chosen on the validation split (scripts/student_runs.sh e6-*, e7-*).
PAPER_STEPS ?= 8000
PAPER_SEEDS ?= 3
PAPER_RANKS ?= 2
MPIRUN      ?= OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np $(PAPER_RANKS) --oversubscribe --bind-to none
# Chosen on the validation split for this student (scripts/student_runs.sh e6-*: 3e-3, the
# demo student's rate, 0.715; 1e-2 0.764; 3e-2 0.794 val 3D AUC): docs/results.md.
PAPER_LR    ?= 3e-2
EKD       := .build/release/ekd

help:
	@echo "make setup   install the Debian packages, Python's safetensors, and onnx + onnxruntime (in .venv-onnx) the build and tests need"
	@echo "make test    setup, then build and run the whole test suite (release build)"
	@echo "make fuzz    build the libFuzzer harnesses (Fuzz/) and run each for FUZZ_SECONDS (default 60) on its seed corpus"
	@echo "make format  lint Sources, Tests and Benchmarks with swift format and .swift-format (any finding fails; rewrites nothing)"
	@echo "make bench   setup, then run the benchmarks in release (THREADS=$(THREADS); ~8 min with the PyTorch peers on 2 cores)"
	@echo "make build   release build of the library, the ekd tool and the benchmarks"
	@echo "make run     the main job: baseline vs full-EKD training of the demo student on fresh synthetic hands, test split (~10 min on 2 cores)"
	@echo "make paper   the paper's ablation: ts500m at 64², 4 modes × 3 seeds over 2 ranks, per view model (make paper-capture, make paper-uniform: ~2 h each)"
	@echo "make peers   create .venv-peers with PyTorch, ONNX Runtime and fvcore for the side-by-side benchmark"

setup:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import safetensors, numpy" 2>/dev/null || \
	  python3 -m pip install -q safetensors numpy 2>/dev/null || \
	  echo "note: python3 lacks safetensors; the Python round-trip test will be skipped"
	@.venv-onnx/bin/python -c "import onnx, onnxruntime, numpy" 2>/dev/null || \
	  { python3 -m venv .venv-onnx && .venv-onnx/bin/pip install -q onnx onnxruntime numpy; } || \
	  echo "WARNING: pip could not install onnx and onnxruntime into .venv-onnx: the ONNX Runtime checks of ekd export will be SKIPPED"

build: setup
	$(SWIFT) build -c release $(TRAITS)

test: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

format:
	$(SWIFT) format lint --strict --recursive --configuration .swift-format Sources Tests Benchmarks

bench: setup
	$(SWIFT) run -c release $(TRAITS) EKDBench --threads $(THREADS) --json bench-results/bench-t$(THREADS).json

run: build
	$(EKD) synth --out $(RUN_DIR)/demo/test-sample --count 32 --size 128 --seed 3 --sheet $(RUN_DIR)/demo/test-sample.png > /dev/null
	$(EKD) reference --dataset synth --out $(RUN_DIR)/demo/reference.json
	$(EKD) ablation --student small --dataset synth --modes baseline,full --seeds 1 --steps $(RUN_STEPS) --threads $(THREADS) --out $(RUN_DIR)/demo

paper: paper-capture paper-uniform

paper-capture: build
	$(MPIRUN) $(EKD) ablation --student ts500m --input 64 --dataset synth --views capture --modes baseline,theta,op,full --seeds $(PAPER_SEEDS) \
	  --steps $(PAPER_STEPS) --lr $(PAPER_LR) --threads 1 --out $(RUN_DIR)/paper-capture-lr$(PAPER_LR)-s$(PAPER_STEPS)

paper-uniform: build
	$(MPIRUN) $(EKD) ablation --student ts500m --input 64 --dataset synth --views uniform --modes baseline,theta,op,full --seeds $(PAPER_SEEDS) \
	  --steps $(PAPER_STEPS) --lr $(PAPER_LR) --threads 1 --out $(RUN_DIR)/paper-uniform-lr$(PAPER_LR)-s$(PAPER_STEPS)

FUZZ_SECONDS ?= 60
fuzz: setup
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

peers:
	@test -x .venv-peers/bin/python || python3 -m venv .venv-peers
	.venv-peers/bin/pip install -q torch torchvision fvcore onnx onnxruntime numpy safetensors

clean:
	rm -rf .build
