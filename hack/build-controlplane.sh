#!/usr/bin/env bash
# Builds a local Kubernetes control plane into bin/k8s/ from the Go module
# proxy only (no release tarballs, no setup-envtest downloads):
#
#   kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
#       from k8s.io/kubernetes, pinned by hack/controlplane/go.mod
#   etcd
#       from go.etcd.io/etcd/server/v3, pinned by hack/etcd/go.mod (its own
#       module: k8s.io/kubernetes v1.37 requires etcd v3.7 libraries, but we
#       want an etcd v3.6 server)
#
# envtest finds kube-apiserver, etcd and kubectl via KUBEBUILDER_ASSETS=bin/k8s.
#
# Idempotent: bin/k8s/.stamp records, per binary, a hash of the build inputs
# (the go.mod/go.sum/sources under hack/controlplane and hack/etcd, this
# script, and the Go version). A binary that exists with a matching stamp is
# skipped, so a second run is a fast no-op. Set FORCE=1 to rebuild everything.
#
# Usage (from anywhere; paths are relative to the repository root):
#   bash hack/build-controlplane.sh [binary ...]
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

OUT_DIR="${REPO_ROOT}/bin/k8s"
STAMP="${OUT_DIR}/.stamp"
CP_MOD="${REPO_ROOT}/hack/controlplane"
ETCD_MOD="${REPO_ROOT}/hack/etcd"

ALL_BINARIES=(kube-apiserver etcd kubectl kube-scheduler kube-controller-manager kubelet)
if [[ $# -gt 0 ]]; then
  BINARIES=("$@")
else
  BINARIES=("${ALL_BINARIES[@]}")
fi

# Builds must not be influenced by a go.work the main repository may grow.
export GOWORK=off

# Hash of everything that determines the output. Computed without invoking the
# Go module machinery so the no-op path stays fast.
inputs_hash() {
  {
    go env GOVERSION GOOS GOARCH
    sha256sum \
      "${CP_MOD}/go.mod" "${CP_MOD}/go.sum" "${CP_MOD}/tools.go" \
      "${ETCD_MOD}/go.mod" "${ETCD_MOD}/go.sum" "${ETCD_MOD}/main.go" \
      "${REPO_ROOT}/hack/build-controlplane.sh" | awk '{print $1}'
  } | sha256sum | awk '{print $1}'
}

HASH="$(inputs_hash)"

stamp_ok() { # binary
  [[ -z "${FORCE:-}" ]] || return 1
  [[ -x "${OUT_DIR}/$1" && -f "${STAMP}" ]] || return 1
  grep -qxF "$1 ${HASH}" "${STAMP}"
}

stamp_set() { # binary
  local tmp
  tmp="$(mktemp "${OUT_DIR}/.stamp.XXXXXX")"
  if [[ -f "${STAMP}" ]]; then
    grep -v "^$1 " "${STAMP}" > "${tmp}" || true
  fi
  echo "$1 ${HASH}" >> "${tmp}"
  chmod 0644 "${tmp}"
  mv -f "${tmp}" "${STAMP}"
}

todo=()
for b in "${BINARIES[@]}"; do
  case " ${ALL_BINARIES[*]} " in
    *" ${b} "*) ;;
    *) echo "unknown binary: ${b} (known: ${ALL_BINARIES[*]})" >&2; exit 2 ;;
  esac
  if stamp_ok "${b}"; then
    echo "bin/k8s/${b}: up to date"
  else
    todo+=("${b}")
  fi
done
[[ ${#todo[@]} -gt 0 ]] || exit 0

mkdir -p "${OUT_DIR}"

# Version stamping, the way kubernetes' hack/lib/version.sh does it; without
# it the binaries report v0.0.0-master. The version is read from go.mod.
KUBE_VERSION="$(cd "${CP_MOD}" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
if [[ ! "${KUBE_VERSION}" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+ ]]; then
  echo "unexpected k8s.io/kubernetes version in hack/controlplane/go.mod: ${KUBE_VERSION}" >&2
  exit 1
fi
KUBE_MAJOR="${BASH_REMATCH[1]}"
KUBE_MINOR="${BASH_REMATCH[2]}"
KUBE_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X ${pkg}.gitVersion=${KUBE_VERSION}"
  KUBE_LDFLAGS+=" -X ${pkg}.gitMajor=${KUBE_MAJOR}"
  KUBE_LDFLAGS+=" -X ${pkg}.gitMinor=${KUBE_MINOR}"
  KUBE_LDFLAGS+=" -X ${pkg}.gitTreeState=clean"
done
# Same tags as kubernetes' release builds (hack/lib/golang.sh).
KUBE_TAGS="selinux,notest,grpcnotrace"

build() { # binary
  local b="$1" dir pkg ldflags tags="" cgo="0" tmp start
  local -a flags=(-trimpath)
  case "${b}" in
    etcd)
      dir="${ETCD_MOD}"; pkg="."; ldflags="-s -w" ;;
    kubelet)
      # kubelet is not statically linked upstream; keep Go's default cgo
      # setting (Go turns cgo off by itself when there is no C compiler).
      dir="${CP_MOD}"; pkg="k8s.io/kubernetes/cmd/${b}"; ldflags="${KUBE_LDFLAGS}"
      tags="${KUBE_TAGS}"; cgo="$(go env CGO_ENABLED)" ;;
    *)
      dir="${CP_MOD}"; pkg="k8s.io/kubernetes/cmd/${b}"; ldflags="${KUBE_LDFLAGS}"
      tags="${KUBE_TAGS}" ;;
  esac
  [[ -z "${tags}" ]] || flags+=(-tags "${tags}")
  tmp="${OUT_DIR}/.${b}.tmp"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -f '${tmp}'" EXIT
  echo "building bin/k8s/${b} (${pkg} in ${dir#"${REPO_ROOT}/"}) ..."
  start="$(date +%s)"
  (
    cd "${dir}"
    CGO_ENABLED="${cgo}" go build "${flags[@]}" -ldflags "${ldflags}" -o "${tmp}" "${pkg}"
  )
  mv -f "${tmp}" "${OUT_DIR}/${b}"
  trap - EXIT
  stamp_set "${b}"
  echo "built bin/k8s/${b} in $(( $(date +%s) - start ))s"
}

total_start="$(date +%s)"
for b in "${todo[@]}"; do
  build "${b}"
done
echo "control plane ${KUBE_VERSION} in bin/k8s/ (built ${#todo[@]} binaries in $(( $(date +%s) - total_start ))s)"
