#!/usr/bin/env bash
# CI only (.ci/run calls it; npm test never does): makes a Docker engine and Compose v2 answer, so
# that test/compose-stack.test.ts runs the compose stack for real instead of skipping.
#   - Debian's docker.io, its dockerd started as root when none answers;
#   - debootstrap, which deploy/offline/build-images.sh needs when no image registry answers;
#   - Compose v2 built from the Go module proxy when no compose plugin is present (about 3.5 min
#     once; the binary is kept in ~/.docker/cli-plugins for the next run).
# Everything it installs stays on the CI machine; a user's machine is never changed by npm test.
set -euo pipefail

say() { printf '\033[1m[ci-docker]\033[0m %s\n' "$*"; }
compose_version=v2.40.3

if [ "$(id -u)" != 0 ]; then
  say "not root: leaving Docker as it is"
  exit 0
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]} (Debian)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  nohup dockerd >/var/log/inferencehub-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || {
    say "dockerd did not answer in 60 s; its log:"
    tail -20 /var/log/inferencehub-dockerd.log
    exit 1
  }
fi
say "engine $(docker info --format '{{.ServerVersion}}') answers"

if ! docker compose version >/dev/null 2>&1; then
  plugin="$HOME/.docker/cli-plugins/docker-compose"
  say "building Compose $compose_version from the Go module proxy (once, about 3.5 min)"
  work="$(mktemp -d)"
  # `go install` refuses this module (its go.mod has exclude directives): build from its source.
  dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/docker/compose/v2@$compose_version" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && go build -o "$work/docker-compose" \
    -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" ./cmd)
  mkdir -p "$(dirname "$plugin")"
  mv "$work/docker-compose" "$plugin"
  rm -rf "$work"
fi
say "$(docker compose version)"
