#!/usr/bin/env bash
# Install one pinned Go-built tool into .tools/bin (git-ignored).
#   scripts/install-tool.sh opa|regal|conftest|kustomize|helm|litewitness|witnessctl
# Order: a binary already in .tools/bin at the pinned version; one on PATH at that
# version (copied); `go install` with caches under .tools/go; the official release
# download for machines that reach it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tools.env
. "$here/tools.env"
tool=${1:?usage: install-tool.sh opa|regal|conftest|kustomize|helm|litewitness|witnessctl}
ldflags=""
bin_dir=${GATEKEEPER_TOOLS_BIN:-$root/.tools/bin}
mkdir -p "$bin_dir"

case "$tool" in
  opa)       version=$OPA_VERSION;       module=github.com/open-policy-agent/opa
             url="https://github.com/open-policy-agent/opa/releases/download/$version/opa_linux_amd64_static";;
  regal)     version=$REGAL_VERSION;     module=github.com/open-policy-agent/regal
             url="https://github.com/open-policy-agent/regal/releases/download/$version/regal_Linux_x86_64";;
  conftest)  version=$CONFTEST_VERSION;  module=github.com/open-policy-agent/conftest
             url="";;
  kustomize) version=$KUSTOMIZE_VERSION; module=sigs.k8s.io/kustomize/kustomize/v5
             url="";;
  helm)      version=$HELM_VERSION;      module=helm.sh/helm/v4/cmd/helm
             # stamped as helm's release build does, so `helm version` names the pinned version
             ldflags="-X helm.sh/helm/v4/internal/version.version=$version"
             url="";;
  # The C2SP witness the decision log's tests submit checkpoints to, and its admin tool.
  # Neither has a version command (litewitness would try to start): the stamp file says.
  litewitness) version=$LITEWITNESS_VERSION; module=filippo.io/torchwood/cmd/litewitness
             url=""; no_version=1;;
  witnessctl) version=$LITEWITNESS_VERSION; module=filippo.io/torchwood/cmd/witnessctl
             url=""; no_version=1;;
  *) echo "install-tool.sh: unknown tool '$tool'" >&2; exit 2;;
esac

has_version() {  # the binary reports the pinned version (each tool prints it differently)
  [ -z "${no_version:-}" ] || return 1
  local out
  out=$("$1" version 2>/dev/null || true)
  grep -q -- "${version#v}" <<<"$out"
}

target="$bin_dir/$tool"
stamp="$bin_dir/.$tool.version"  # for builds that report no version of their own (regal)
if [ -x "$target" ] && { has_version "$target" || [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; }; then exit 0; fi
trap '[ -x "$target" ] && echo "$version" > "$stamp"' EXIT
if found=$(command -v "$tool" 2>/dev/null) && [ "$found" != "$target" ] && has_version "$found"; then
  cp "$found" "$target"; exit 0
fi

if command -v go >/dev/null 2>&1; then
  echo "install-tool.sh: building $tool $version with go install (cached under .tools/go)" >&2
  export GOMODCACHE=${GOMODCACHE_OVERRIDE:-$root/.tools/go/mod}
  export GOCACHE=${GOCACHE_OVERRIDE:-$root/.tools/go/cache}
  export GOFLAGS=-modcacherw
  if CGO_ENABLED=0 GOBIN="$bin_dir" go install -ldflags="$ldflags" "$module@$version"; then
    [ -n "${no_version:-}" ] || has_version "$target" || echo "install-tool.sh: warning: $tool built but reports another version" >&2
    exit 0
  fi
  # Some modules' version list is not served by the proxy, and `go install m@v` reads it
  # (deprecation check); a scratch module that requires the exact version avoids that.
  echo "install-tool.sh: go install failed; building $module@$version through a scratch module" >&2
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"; [ -x "$target" ] && echo "$version" > "$stamp"' EXIT
  if (cd "$scratch" && go mod init scratch >/dev/null 2>&1 && go get "$module@$version" \
      && CGO_ENABLED=0 go build -ldflags="$ldflags" -o "$target" "$module"); then
    exit 0
  fi
  echo "install-tool.sh: go build of $module@$version failed" >&2
fi
if [ -n "$url" ]; then
  echo "install-tool.sh: downloading $tool $version" >&2
  curl -fsSL --retry 2 -o "$target.tmp" "$url" && chmod +x "$target.tmp" && mv "$target.tmp" "$target" && exit 0
fi
echo "install-tool.sh: could not install $tool $version (no go toolchain and no download)" >&2
exit 1
