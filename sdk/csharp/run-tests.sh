#!/usr/bin/env bash
# Runs the C# SDK's NUnit tests (built by build.sh) with nunit-console and writes NUnit's result
# XML to $1 (default: sdk/csharp/build/TestResult.xml). The integration fixtures need the live
# stack's environment (test/lib/sdk-stack.ts); test/sdk-csharp.test.ts runs this with it.
# Optional: NUNIT_RUN="Fixture or Namespace.Fixture.Test" runs only that (for development).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
xml="${1:-$here/build/TestResult.xml}"
tests="$here/build/InferenceHub.Client.Tests.dll"

if [ ! -f "$tests" ]; then
  echo "run-tests.sh: $tests is missing; run bash sdk/csharp/build.sh first" >&2
  exit 2
fi
mkdir -p "$(dirname "$xml")"
args=(-nologo -noshadow -domain=None -labels "-xml=$xml")
if [ -n "${NUNIT_RUN:-}" ]; then args+=("-run=InferenceHub.Client.Tests.${NUNIT_RUN}"); fi
# -domain=None: one AppDomain, no shadow copy; the tests' own timeouts bound each call.
exec nunit-console "${args[@]}" "$tests"
