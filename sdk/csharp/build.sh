#!/usr/bin/env bash
# Builds the C# SDK and its NUnit tests with mono's mcs (Debian's mono-complete), into
# sdk/csharp/build/: InferenceHub.Client.dll (netstandard2.0 source; the same files build with
# `dotnet build` on current .NET) and InferenceHub.Client.Tests.dll (NUnit 2.6).
# Idempotent: skips a compile whose inputs are older than its output.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
nunit_dir="${NUNIT_FRAMEWORK_DIR:-/usr/lib/cli/nunit.framework-2.6.3}"

have_tools() { command -v mcs >/dev/null && command -v nunit-console >/dev/null && [ -f "$nunit_dir/nunit.framework.dll" ]; }

if ! have_tools; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build.sh: installing mono-complete and nunit-console with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mono-complete nunit-console >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mono-complete nunit-console >&2; }
  fi
  if ! have_tools; then
    echo "build.sh: needs mono's mcs, nunit-console and $nunit_dir/nunit.framework.dll;" \
      "install them with: sudo apt-get install mono-complete nunit-console" >&2
    exit 2
  fi
fi

mkdir -p "$out"
cp -f "$nunit_dir/nunit.framework.dll" "$out/"

# Recompiles $1 from the .cs files under $2 when any of them (or this script) is newer.
stale() {
  local target="$1" dir="$2"
  [ ! -f "$target" ] && return 0
  [ "$here/build.sh" -nt "$target" ] && return 0
  [ -n "$(find "$dir" -name '*.cs' -newer "$target" -print -quit)" ]
}

sources() { find "$1" -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' | LC_ALL=C sort; }

lib="$out/InferenceHub.Client.dll"
if stale "$lib" "$here/InferenceHub.Client"; then
  # -warnaserror: the library builds clean, XML docs included (CS1591: a public member without one).
  mapfile -t lib_sources < <(sources "$here/InferenceHub.Client")
  mcs -target:library -langversion:7.2 -optimize+ -warnaserror \
    -doc:"$out/InferenceHub.Client.xml" -r:System.Net.Http.dll \
    -out:"$lib" "${lib_sources[@]}"
fi

tests="$out/InferenceHub.Client.Tests.dll"
if stale "$tests" "$here/InferenceHub.Client.Tests" || [ "$lib" -nt "$tests" ]; then
  mapfile -t test_sources < <(sources "$here/InferenceHub.Client.Tests")
  mcs -target:library -langversion:7.2 -debug -r:"$lib" -r:"$out/nunit.framework.dll" \
    -r:System.Net.Http.dll -out:"$tests" "${test_sources[@]}"
fi
echo "build.sh: $lib and $tests are up to date" >&2
