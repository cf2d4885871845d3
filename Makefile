# EKD — the commands a user and CI run. `make help` lists them.
SWIFT      ?= swift
THREADS    ?= 2
SUDO       := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := pkg-config libopenblas-dev liblapacke-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev
# Tests run optimised: numeric kernels are 10-50x slower in debug builds.
TEST_FLAGS ?= -c release

.PHONY: help setup build test bench peers clean

help:
	@echo "make setup   install the Debian packages (and Python's safetensors) the build and tests need"
	@echo "make test    setup, then build and run the whole test suite (release build)"
	@echo "make bench   setup, then run the benchmarks in release (THREADS=$(THREADS))"
	@echo "make build   release build of the library, the ekd tool and the benchmarks"

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

bench: setup
	$(SWIFT) run -c release EKDBench --threads $(THREADS)

clean:
	rm -rf .build
