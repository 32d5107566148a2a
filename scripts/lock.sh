#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml: every package the panel and its tests install, pinned
# to one version with the sha256 of each of its files. `make test` and `make run` install from it
# with --require-hashes, so a package replaced on an index (or a new release) never reaches the panel
# unseen. Run it after changing a dependency in pyproject.toml (`make lock`), and commit both.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOLS="$(mktemp -d)"
trap 'rm -rf "$TOOLS"' EXIT
python3 -m venv "$TOOLS/venv"
"$TOOLS/venv/bin/pip" install -q pip-tools
cd "$ROOT"
say "resolving pyproject.toml (with the dev extra) into requirements.lock"
CUSTOM_COMPILE_COMMAND="make lock" "$TOOLS/venv/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --extra dev \
  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
