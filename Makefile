# Evaluation of the reviewers on eval/ (see eval/README.md).
PYTHON ?= python3
# Reviewers `make eval` scores alone, and the unions it scores together.
EVAL_REVIEWERS ?= every-line,ruff,naive-prompt
EVAL_COMBOS ?=
# `make eval` runs the model baselines on a stable subset (N defects with their fixes + N clean);
# 0 = every case (hours on 2 CPU cores).
EVAL_LIMIT ?= 20

.PHONY: eval eval-quick eval-build

eval-build:
	$(PYTHON) eval/build.py

# Minutes: the deterministic reviewers (ruff, semgrep patterns, secrets) and the every-line and
# hunk-start baselines on every case.
eval-quick: eval-build
	$(PYTHON) eval/score.py --reviewers every-line,hunk-start,ruff,patterns,secrets --combos ruff+patterns --name quick

# Minutes: adds the local model baselines (needs the model, see eval/README.md).
eval: eval-quick
	$(PYTHON) eval/score.py --reviewers $(EVAL_REVIEWERS) $(if $(EVAL_COMBOS),--combos $(EVAL_COMBOS)) \
		--limit $(EVAL_LIMIT) --name full
