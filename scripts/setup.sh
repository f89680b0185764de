#!/usr/bin/env bash
# Installs everything InferenceHub needs on a fresh machine, and returns in seconds the second
# time: npm packages, protoc (Debian), generated protocol types, the test models, Envoy,
# MLServer (a stock model server, for test/mlserver.test.ts), and Redis with Envoy's rate limit
# service (global rate limits, for test/ratelimit-service.test.ts), and what the SDKs in sdk/ are
# built and tested with (a Python venv, mono and NUnit).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed (found $(node --version 2>/dev/null || echo none))."

# onnxruntime-node's install step would download CUDA parts from outside the npm registry;
# the CPU provider needs none. GPU nodes: see node/README.md.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.setup-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  step "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.setup-lock-hash
fi

if ! command -v protoc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing protoc (Debian protobuf-compiler)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
  else
    die "protoc is needed to generate the protocol types: install it (Debian/Ubuntu: sudo apt-get install protobuf-compiler; macOS: brew install protobuf) and run again."
  fi
fi

step "generating protocol types"
npx tsx scripts/gen-protos.ts
step "generating test models"
npx tsx scripts/gen-models.ts
step "locating Envoy"
npx tsx scripts/lib/envoy.ts
step "fetching deploy schemas and tools (for the deploy checks)"
bash scripts/fetch-deploy-schemas.sh

# The stock tritonclient (PyPI, gRPC and HTTP flavours, about 70 MB with numpy, grpcio and gevent) in
# a venv of its own: test/tritonclient.test.ts calls the gateway with it exactly as a Triton user
# would, and test/node-rest.test.ts calls a node's REST port with tritonclient.http.
tritonclient_version=2.73.0
tritonclient_venv=.tools/tritonclient-venv
if [ "$(cat "$tritonclient_venv/.stamp" 2>/dev/null)" != "tritonclient[grpc,http]==$tritonclient_version" ]; then
  step "installing tritonclient[grpc,http] $tritonclient_version into $tritonclient_venv (once)"
  rm -rf "$tritonclient_venv"
  python3 -m venv "$tritonclient_venv"
  "$tritonclient_venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off \
    "tritonclient[grpc,http]==$tritonclient_version"
  echo "tritonclient[grpc,http]==$tritonclient_version" > "$tritonclient_venv/.stamp"
fi

# MLServer (PyPI, about 330 MB installed with its dependencies) in a venv of its own: test/mlserver.test.ts
# puts it behind the gateway as a stock server. Optional: without it that test skips, saying why.
# The version must match MLSERVER_VERSION in scripts/lib/mlserver-process.ts, which reads the stamp.
mlserver_version=1.7.1
mlserver_venv=.tools/mlserver-venv
if [ "${INFERENCEHUB_SKIP_MLSERVER:-}" = 1 ]; then
  :
elif [ "$(cat "$mlserver_venv/.stamp" 2>/dev/null)" != "mlserver==$mlserver_version" ]; then
  step "installing MLServer $mlserver_version into $mlserver_venv (once; INFERENCEHUB_SKIP_MLSERVER=1 skips)"
  rm -rf "$mlserver_venv"
  if python3 -m venv "$mlserver_venv" &&
    "$mlserver_venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off \
      "mlserver==$mlserver_version"; then
    echo "mlserver==$mlserver_version" > "$mlserver_venv/.stamp"
  else
    rm -rf "$mlserver_venv"
    printf '\033[33m[setup] MLServer could not be installed (python3 with venv and PyPI are needed); test/mlserver.test.ts will skip\033[0m\n' >&2
  fi
fi

# Installs a Debian package that ships a server (Redis, etcd) without starting it as a system
# service: the tests and the local stack start their own on free ports. Without root or apt-get,
# it says how to install it and which tests will skip.
#   install_server_package <command> <package> <what> <macOS formula> <tests that skip>
install_server_package() {
  local command=$1 package=$2 what=$3 formula=$4 skips=$5
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing $what (Debian $package; not started as a service)"
    # policy-rc.d answering 101 stops the package's scripts from starting the service now.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null ||
      printf '\033[33m[setup] %s could not be installed; %s will skip\033[0m\n' "$package" "$skips" >&2
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  else
    printf '\033[33m[setup] %s is not installed (Debian/Ubuntu: sudo apt-get install %s; macOS: brew install %s); %s will skip\033[0m\n' \
      "$command" "$package" "$formula" "$skips" >&2
  fi
}

# Global rate limits (#16): Redis (Debian's redis-server; never started as a system service, the
# tests and the local stack start their own on free ports) and Envoy's reference rate limit
# service, envoyproxy/ratelimit, built from the Go module proxy into .tools/ratelimit/bin. The
# module has no tags: the pseudo-version is what `@latest` resolved to. The version must match
# RATELIMIT_MODULE in scripts/lib/ratelimit-process.ts, which reads the stamp. Optional: without
# them test/ratelimit-service.test.ts skips, saying why (INFERENCEHUB_REQUIRE_RATELIMIT=1 fails it).
install_server_package redis-server redis-server Redis redis test/ratelimit-service.test.ts

# Config store on etcd (#17): Debian's etcd-server, never started as a system service; the tests
# and the local stack start their own members on free ports (scripts/lib/etcd-process.ts).
# Optional: without it test/etcd-store.test.ts and test/control-plane-replicas.test.ts skip,
# saying why (INFERENCEHUB_REQUIRE_ETCD=1 fails them).
install_server_package etcd etcd-server etcd etcd "test/etcd-store.test.ts and test/control-plane-replicas.test.ts"

# About 70 s here (2 cores) with an empty Go build cache, plus the module downloads (about 10 s);
# 3 s when Go's caches are warm; nothing at all once the stamp matches.
ratelimit_module=github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36
ratelimit_dir=.tools/ratelimit
if [ "$(cat "$ratelimit_dir/.stamp" 2>/dev/null)" != "$ratelimit_module" ] || [ ! -x "$ratelimit_dir/bin/service_cmd" ]; then
  if command -v go >/dev/null 2>&1; then
    step "building Envoy's rate limit service ($ratelimit_module) into $ratelimit_dir (once)"
    rm -rf "$ratelimit_dir"
    mkdir -p "$ratelimit_dir/bin"
    # -mod=mod: a GOFLAGS=-mod=vendor in the caller's environment would refuse a module install;
    # GOTOOLCHAIN=local: build with the Go installed here instead of downloading the one go.mod names.
    if GOBIN="$PWD/$ratelimit_dir/bin" GOFLAGS=-mod=mod GOTOOLCHAIN=local go install "$ratelimit_module"; then
      echo "$ratelimit_module" > "$ratelimit_dir/.stamp"
    else
      rm -rf "$ratelimit_dir"
      printf '\033[33m[setup] the rate limit service could not be built (Go 1.25.6 or newer and the Go module proxy are needed); test/ratelimit-service.test.ts will skip\033[0m\n' >&2
    fi
  else
    printf '\033[33m[setup] Go is not installed, so the rate limit service cannot be built (https://go.dev/dl/); test/ratelimit-service.test.ts will skip\033[0m\n' >&2
  fi
fi

# The SDKs (#19): the Python SDK in a venv of its own with pytest and the stock tritonclient
# (sdk/python/dev-setup.sh, seconds once its stamp matches), and for the C# SDK, Debian's mono
# (mcs and the runtime) and NUnit's console runner. Optional: without them test/sdk-python.test.ts
# and test/sdk-csharp.test.ts skip, saying why (INFERENCEHUB_REQUIRE_SDKS=1 fails them).
bash sdk/python/dev-setup.sh ||
  printf '\033[33m[setup] the Python SDK venv could not be made (python3 with venv and PyPI are needed); test/sdk-python.test.ts will skip\033[0m\n' >&2
install_server_package mcs mono-complete "mono (the C# SDK's compiler and runtime)" mono test/sdk-csharp.test.ts
install_server_package nunit-console nunit-console "NUnit's console runner (the C# SDK's tests)" nunit test/sdk-csharp.test.ts
