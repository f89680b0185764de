#!/usr/bin/env bash
# The Python SDK's development venv (.tools/sdk-python-venv): the package from ./sdk/python, pytest,
# and the stock tritonclient (for bench/). Idempotent: the stamp holds the pinned tools and a hash
# of sdk/python and proto/, so a second run returns at once unless one of them changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.tools/sdk-python-venv
tools="pytest==8.4.2 tritonclient[grpc]==2.73.0"
step() { printf '\033[1m[sdk-python]\033[0m %s\n' "$*"; }

# What the installed package was built from: the SDK's files (not its build outputs) and the protos.
source_hash=$(
  find sdk/python proto -type f \
    -not -path '*/__pycache__/*' -not -path '*.egg-info/*' -not -path 'sdk/python/build/*' \
    -not -path 'sdk/python/dist/*' -not -path 'sdk/python/src/inferencehub/_proto/*' \
    -not -path 'sdk/python/proto/*' -not -path 'sdk/python/tests/*' -not -path '*/.pytest_cache/*' \
    -not -path '*/.mypy_cache/*' -not -path '*/.ruff_cache/*' \
    -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)
stamp="$tools sdk=$source_hash"
if [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off)
if [ "$(cut -d" " -f1-2 "$venv/.stamp" 2>/dev/null)" != "$tools" ]; then
  step "installing $tools"
  # shellcheck disable=SC2086
  "${pip[@]}" $tools
fi
step "installing the inferencehub package from ./sdk/python (protocol stubs generated from proto/)"
"${pip[@]}" --force-reinstall --no-deps ./sdk/python
# Its runtime dependencies (grpcio, protobuf, numpy), at what pyproject.toml asks.
"${pip[@]}" ./sdk/python
rm -rf sdk/python/build
echo "$stamp" > "$venv/.stamp"
step "ready: $venv"
