# EKD — the commands a user and CI run. `make help` lists them.
SWIFT      ?= swift
THREADS    ?= 2
SUDO       := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := pkg-config libopenblas-dev liblapacke-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev
# Tests run optimised: numeric kernels are 10-50x slower in debug builds.
TEST_FLAGS ?= -c release

.PHONY: help setup build test format bench peers run clean

# The main job: render the synthetic set, train the baseline and the full-EKD
# tiny student, evaluate both on held-out synthetic data.
RUN_DIR   ?= runs
RUN_STEPS ?= 1500
EKD       := .build/release/ekd

help:
	@echo "make setup   install the Debian packages (and Python's safetensors) the build and tests need"
	@echo "make test    setup, then build and run the whole test suite (release build)"
	@echo "make format  lint Sources, Tests and Benchmarks with swift format and .swift-format (any finding fails; rewrites nothing)"
	@echo "make bench   setup, then run the benchmarks in release (THREADS=$(THREADS); ~15 min with the PyTorch peers)"
	@echo "make build   release build of the library, the ekd tool and the benchmarks"
	@echo "make run     the main job: synthetic data, baseline vs full-EKD training, evaluation (~10-15 min)"
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

build: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

format:
	$(SWIFT) format lint --strict --recursive --configuration .swift-format Sources Tests Benchmarks

bench: setup
	$(SWIFT) run -c release EKDBench --threads $(THREADS) --json bench-results/bench-t$(THREADS).json

run: build
	@test -f $(RUN_DIR)/synth/train/labels.json || $(EKD) synth --out $(RUN_DIR)/synth/train --count 6000 --size 128 --seed 1 --threads $(THREADS)
	@test -f $(RUN_DIR)/synth/val/labels.json   || $(EKD) synth --out $(RUN_DIR)/synth/val   --count 500  --size 128 --seed 2 --threads $(THREADS)
	@test -f $(RUN_DIR)/synth/test/labels.json  || $(EKD) synth --out $(RUN_DIR)/synth/test  --count 1000 --size 128 --seed 3 --threads $(THREADS)
	$(EKD) bounds --dataset synth --root $(RUN_DIR)/synth --out $(RUN_DIR)/synth/bounds.json
	$(EKD) ablation --student tiny --dataset synth --root $(RUN_DIR)/synth --bounds $(RUN_DIR)/synth/bounds.json \
	  --modes baseline,full --seeds 1 --steps $(RUN_STEPS) --threads $(THREADS) --out $(RUN_DIR)/demo

peers:
	@test -x .venv-peers/bin/python || python3 -m venv .venv-peers
	.venv-peers/bin/pip install -q torch torchvision fvcore onnx onnxruntime numpy safetensors

clean:
	rm -rf .build
