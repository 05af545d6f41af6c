#!/usr/bin/env bash
# Build and cache a real kube-apiserver and kine (SQLite-backed etcd shim) for the end-to-end test.
#   scripts/build-kube.sh            # builds what is missing, prints the install dir's binaries
# Output: .tools/kube/$KUBE_VERSION/{kube-apiserver,kine} (git-ignored). Versions: scripts/tools.env.
# Also cert-manager-crds/: cert-manager's own CRDs (cert-manager.io_*.yaml from the pinned
# github.com/cert-manager/cert-manager Go module, ~4 MB), so the e2e test can check
# deploy/overlays/cert-manager's Issuers and Certificates against the real schemas.
# A warm cache is a fast no-op. Go caches are shared with the other Go tools under .tools/go.
#
# kube-apiserver cannot be `go install`ed (k8s.io/kubernetes replaces ~30 staging modules with
# ./staging/...), so a scratch module requires k8s.io/kubernetes and replaces each staging module
# with its published v0.X.Y; the list is read from k8s.io/kubernetes' own go.mod.
#
# Environment: GO_BUILD_P (go build -p, default 1), NICE (default 19): the machine is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tools.env
. "$here/tools.env"
: "${KUBE_VERSION:?KUBE_VERSION missing from scripts/tools.env}"
: "${KINE_VERSION:?KINE_VERSION missing from scripts/tools.env}"
# the newest cert-manager release when this was written; scripts/tools.env may pin another
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.21.2}

step() { echo "build-kube: $*"; }
die() { echo "build-kube: ERROR: $*" >&2; exit 1; }

out_dir=${KUBE_TOOLS_DIR:-$root/.tools/kube/$KUBE_VERSION}
apiserver="$out_dir/kube-apiserver"
kine="$out_dir/kine"
crd_dir="$out_dir/cert-manager-crds"
mkdir -p "$out_dir"

# v1.34.10 -> staging modules v0.34.10
[[ $KUBE_VERSION =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "KUBE_VERSION '$KUBE_VERSION' is not v1.MINOR.PATCH"
kube_minor=${BASH_REMATCH[1]}
staging_version="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

apiserver_ok() { [ -x "$apiserver" ] && "$apiserver" --version 2>/dev/null | grep -qx "Kubernetes $KUBE_VERSION"; }
kine_ok() { [ -x "$kine" ] && [ "$(cat "$out_dir/kine.version" 2>/dev/null)" = "$KINE_VERSION" ]; }
crds_ok() {
  [ "$(cat "$crd_dir/version" 2>/dev/null)" = "$CERT_MANAGER_VERSION" ] \
    && compgen -G "$crd_dir/cert-manager.io_*.yaml" >/dev/null
}

if apiserver_ok && kine_ok && crds_ok; then
  step "kube-apiserver $KUBE_VERSION, kine $KINE_VERSION and cert-manager $CERT_MANAGER_VERSION CRDs already in ${out_dir#"$root"/}"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "no go toolchain on PATH (needs Go >= 1.24 for kube-apiserver, >= the kine go.mod's for kine)"
export GOMODCACHE=${GOMODCACHE_OVERRIDE:-$root/.tools/go/mod}
export GOCACHE=${GOCACHE_OVERRIDE:-$root/.tools/go/cache}
export GOFLAGS=-modcacherw
export CGO_ENABLED=0
# Never let the go command download another toolchain (the machine reaches no such host).
export GOTOOLCHAIN=local
gobuild_p=${GO_BUILD_P:-1}
nice_n=${NICE:-19}
run_go() { nice -n "$nice_n" go "$@"; }
step "using $(go version | cut -d' ' -f3), GOMODCACHE=${GOMODCACHE#"$root"/}, go build -p $gobuild_p under nice -n $nice_n"

# --- kine ---------------------------------------------------------------------------------------
if kine_ok; then
  step "kine $KINE_VERSION already built"
else
  step "building kine $KINE_VERSION (CGO_ENABLED=0: pure-Go SQLite)"
  gobin=$(mktemp -d "$out_dir/.kine-build.XXXXXX")
  trap 'rm -rf "$gobin"' EXIT
  GOBIN="$gobin" run_go install -p "$gobuild_p" -trimpath \
      -ldflags "-s -w -X github.com/k3s-io/kine/pkg/version.Version=$KINE_VERSION" \
      "github.com/k3s-io/kine@$KINE_VERSION" \
    || die "go install github.com/k3s-io/kine@$KINE_VERSION failed (see the go output above)"
  mv -f "$gobin/kine" "$kine"
  echo "$KINE_VERSION" >"$out_dir/kine.version"
  rm -rf "$gobin"; trap - EXIT
  "$kine" --version >/dev/null 2>&1 || die "the built kine does not run: $kine"
  step "kine -> ${kine#"$root"/}"
fi

# --- cert-manager CRDs ---------------------------------------------------------------------------
if crds_ok; then
  step "cert-manager $CERT_MANAGER_VERSION CRDs already cached"
else
  step "fetching cert-manager $CERT_MANAGER_VERSION CRDs (the Go module's deploy/crds, ~4 MB)"
  cm_json=$(run_go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" 2>&1) || true
  cm_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$cm_json")
  if [ -z "$cm_dir" ] || ! compgen -G "$cm_dir/deploy/crds/cert-manager.io_*.yaml" >/dev/null; then
    echo "$cm_json" >&2
    die "cannot get deploy/crds/cert-manager.io_*.yaml of github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION"
  fi
  rm -rf "$crd_dir"; mkdir -p "$crd_dir"
  cp "$cm_dir"/deploy/crds/cert-manager.io_*.yaml "$crd_dir/"
  echo "$CERT_MANAGER_VERSION" >"$crd_dir/version"
  step "cert-manager CRDs -> ${crd_dir#"$root"/} ($(cd "$crd_dir" && echo cert-manager.io_*.yaml))"
fi

# --- kube-apiserver -----------------------------------------------------------------------------
if apiserver_ok; then
  step "kube-apiserver $KUBE_VERSION already built"
  exit 0
fi

step "downloading k8s.io/kubernetes@$KUBE_VERSION (source zip, ~18 MB)"
dl_json=$(run_go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" 2>&1) || true
if grep -q '"Error"' <<<"$dl_json" || ! grep -q '"GoMod"' <<<"$dl_json"; then
  echo "$dl_json" >&2
  die "cannot download k8s.io/kubernetes@$KUBE_VERSION (a version whose checksum sum.golang.org lacks fails with '404 Not Found' on the sumdb lookup: pick an older patch in scripts/tools.env)"
fi
kube_gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$dl_json")
[ -f "$kube_gomod" ] || die "go mod download did not give the go.mod of k8s.io/kubernetes@$KUBE_VERSION"

# The staging modules: every `k8s.io/X => ./staging/src/k8s.io/X` in the published go.mod.
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$kube_gomod")
[ "${#staging[@]}" -ge 20 ] || die "found only ${#staging[@]} staging replaces in $kube_gomod (expected about 30)"
step "${#staging[@]} staging modules, replaced with $staging_version"
go_directive=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kube_gomod")
godebug_lines=$(grep -E '^godebug ' "$kube_gomod" || true)

mod_dir="$out_dir/build-module"
rm -rf "$mod_dir"; mkdir -p "$mod_dir"
{
  echo "// Generated by scripts/build-kube.sh: builds k8s.io/kubernetes/cmd/kube-apiserver $KUBE_VERSION."
  echo "module gatekeeper.local/kubebuild"
  echo
  echo "go ${go_directive:-1.24.0}"
  echo
  # keep Kubernetes' own GODEBUG defaults (it pins them to its go directive)
  [ -n "$godebug_lines" ] && { echo "$godebug_lines"; echo; }
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
  echo ")"
} >"$mod_dir/go.mod"
cat >"$mod_dir/tools.go" <<'EOF'
//go:build tools

// Package tools makes `go mod tidy` record kube-apiserver's dependencies.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF

step "resolving dependencies (go mod tidy; downloads several hundred MB on a cold module cache)"
(cd "$mod_dir" && run_go mod tidy) || die "go mod tidy failed in ${mod_dir#"$root"/} (see above)"

ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done

step "building kube-apiserver $KUBE_VERSION (cold: many minutes, several GB of RAM)"
(cd "$mod_dir" && run_go build -p "$gobuild_p" -trimpath -tags selinux,notest \
    -ldflags "$ldflags" -o "$apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) \
  || { rm -f "$apiserver.tmp"; die "go build of kube-apiserver $KUBE_VERSION failed (see above)"; }
mv -f "$apiserver.tmp" "$apiserver"
apiserver_ok || die "the built kube-apiserver does not report 'Kubernetes $KUBE_VERSION': $("$apiserver" --version 2>&1 | head -n1)"
step "kube-apiserver -> ${apiserver#"$root"/} ($("$apiserver" --version))"
