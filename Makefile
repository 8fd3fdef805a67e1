# Setup contract: `make demo` and `make test` work on a fresh machine with only
# Python 3.11+, git and make.  Both create/refresh .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test mutants test-random test-matrix test-preempt test-ft test-wheel test-stdlib lint bench stress clean

venv: $(STAMP)

$(STAMP): pyproject.toml gpm/_version.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: venv
	@echo "== work stealing: bursts of 128 goroutines hashing 1 MiB each, schedtrace every 200 ms"
	GPM_DEBUG=schedtrace=200 $(PY) examples/steal_demo.py --procs 2 -n 4000
	@echo
	@echo "== the fairness stress tool: one spawner, 5000 goroutines at once (overflow to the global queue)"
	GPM_DEBUG=schedtrace=500 $(PY) -m gpm.stress --procs 2 -n 5000 --work hash --spawn one --no-progress

test: venv
	$(PY) -m pytest -q

# Build the sdist and wheel, install the wheel into a fresh venv in a temp dir
# (not editable) and run a smoke program and the examples from there.
test-wheel: venv
	tools/test_wheel.sh $(PY) $(PYTHON)

# mypy (strict on gpm/ and the typed example, plain on gpm/_runtime: see
# [tool.mypy] in pyproject.toml) and ruff.
lint: venv
	$(PY) -m mypy
	$(PY) -m ruff check .

# CPython's own test_queue, test_selectors, test_socket, test_ssl, test_subprocess (subset) and
# test_threading/test_thread lock tests: unpatched vs inside a goroutine after patch_all()
# (docs/STDLIB.md lists the counts and every difference).  About 12-16 minutes; .ci/run runs it
# last.  Exit status 1 only for a difference docs/STDLIB.md does not list.
test-stdlib: venv
	$(PY) tests/stdlib/run_stdlib.py

# The scheduler-heavy part of the suite with run-queue order shuffled
# (GPM_DEBUG=randomize=1) under a fresh seed, printed first so a failure can be
# replayed: make test-random SEED=N.  CI runs it after make test (~2 min).
RANDOM_TESTS ?= tests/runtime tests/api/test_runtime.py tests/api/test_chan.py \
	tests/api/test_select.py tests/api/test_sync.py tests/api/test_time.py
test-random: venv
	@seed=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "test-random: GPM_DEBUG=randomize=1,seed=$$seed (replay: make test-random SEED=$$seed)"; \
	GPM_DEBUG=randomize=1,seed=$$seed $(PY) -m pytest -q $(RANDOM_TESTS)

# Mutation testing (mutmut 3, [tool.mutmut] in pyproject.toml) of p, sudog, sema,
# timers, chan, select and sched's protocol functions (stopm and its recheck
# helpers, wakep, goready and its batch forms, findrunnable, findnext and its
# _requeue); not part of make test.  niced, two workers.  Hours on 2 shared cores
# with the full selection (0.16 mutants/s at load 15-20); a copy of the tree with
# a per-module selection ran 0.24-0.48 mutants/s (docs/HACKING.md has the
# figures and the selections); MUTANTS="gpm._runtime.sema.*" narrows a run.  Then
# `.venv/bin/python tools/mutants_score.py -v` prints the per-module score and
# the survivors; docs/HACKING.md explains the equivalent ones.
SCHED_PROTOCOL := xǁSchedǁstopm* xǁSchedǁ_any_stealable* xǁSchedǁ_leave_idle* xǁSchedǁwakep* \
	x_goready* x_runqput_home* xǁSchedǁfindrunnable* x_findnext* x__requeue*
MUTANTS ?= gpm._runtime.p.* gpm._runtime.timers.* gpm._runtime.sema.* gpm._runtime.sudog.* \
	$(addprefix gpm._runtime.sched.,$(SCHED_PROTOCOL)) gpm._runtime.chan.* gpm._runtime.select.*
mutants: venv
	nice -n 10 $(VENV)/bin/mutmut run --max-children 2 $(foreach m,$(MUTANTS),'$(m)')
	$(PY) tools/mutants_score.py -v $(foreach m,$(MUTANTS),'$(m)')

# The suite on every other supported CPython found under pyenv (not run by CI).
test-matrix: test
	@for v in 3.12 3.13; do \
	  py=$$(ls -d $$HOME/.pyenv/versions/$$v*/bin/python 2>/dev/null | head -1); \
	  if [ -z "$$py" ]; then echo "python $$v: not found, skipped"; continue; fi; \
	  $$py -m venv .venv-$$v && .venv-$$v/bin/pip install -q -e '.[dev]' && \
	  .venv-$$v/bin/python -m pytest -q || exit 1; \
	done

# Only the preemption tests (they skip on 3.11) on 3.12 and 3.13 from pyenv; reuses
# test-matrix's venvs when they exist (a fresh venv with the dev extras takes minutes here).
test-preempt:
	@for v in 3.12 3.13; do \
	  py=$$(ls -d $$HOME/.pyenv/versions/$$v*/bin/python 2>/dev/null | head -1); \
	  if [ -z "$$py" ]; then echo "python $$v: not found, skipped"; continue; fi; \
	  test -x .venv-$$v/bin/python || { $$py -m venv .venv-$$v && .venv-$$v/bin/pip install -q -e '.[dev]'; } || exit 1; \
	  .venv-$$v/bin/python -m pytest -q tests/api/test_preempt.py tests/runtime/test_preempt.py tests/runtime/test_sysmon.py || exit 1; \
	done

# The suite on a free-threaded CPython built from Debian's source package (cached in .ft/, ~3 min once).
test-ft:
	tools/test_ft.sh

bench: venv
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .venv-3.* .venv-ft build *.egg-info .pytest_cache .hypothesis
