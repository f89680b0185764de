#!/usr/bin/env bash
# Runs one test suite with Node's test runner: unit tests live beside the code (*.test.ts),
# integration tests under test/ (they start real Envoy and node processes).
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:?usage: run-tests.sh unit|integration [file...]}"
shift || true
if [ "$#" -gt 0 ]; then
  files=("$@")
elif [ "$suite" = unit ]; then
  mapfile -t files < <(find contracts xds-server ext-authz node scripts hubctl -name '*.test.ts' -not -name '*.integration.test.ts' 2>/dev/null | sort)
else
  # test/ holds the end-to-end tests; *.integration.test.ts beside the code start real processes too.
  mapfile -t files < <({ find test -name '*.test.ts'; find contracts xds-server ext-authz node scripts hubctl -name '*.integration.test.ts' 2>/dev/null; } | sort)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "run-tests: no $suite tests found" >&2
  exit 1
fi
# Integration tests start several processes each: run files one at a time on a 2-core machine.
concurrency=$([ "$suite" = integration ] && echo 1 || echo 2)
# A test that hangs fails after 5 minutes instead of holding CI to its limit.
exec node --import tsx --test --test-concurrency="$concurrency" --test-timeout=300000 --test-reporter=spec "${files[@]}"
