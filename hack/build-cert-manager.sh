#!/usr/bin/env bash
# Builds cert-manager's controllers and cainjector, as one binary, into
# bin/cert-manager/ from the Go module proxy only, and copies cert-manager's
# CRDs next to it:
#
#   bin/cert-manager/cert-manager   hack/cert-manager (its own module), which
#                                   runs the controllers and injectors of
#                                   github.com/cert-manager/cert-manager
#   bin/cert-manager/crds/*.yaml    deploy/crds of that module
#
# The version is the one hack/cert-manager/go.mod requires; it must be the
# version the project's go.mod requires (the API types the chart and the
# tests are written against), or the build stops and says so.
#
# Idempotent: bin/cert-manager/.stamp records a hash of the build inputs
# (hack/cert-manager's go.mod, go.sum and main.go, this script and the Go
# version). With a matching stamp the build is skipped, so a second run is a
# fast no-op. Set FORCE=1 to rebuild.
#
# Usage (from anywhere): bash hack/build-cert-manager.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

OUT_DIR="${REPO_ROOT}/bin/cert-manager"
STAMP="${OUT_DIR}/.stamp"
MOD="${REPO_ROOT}/hack/cert-manager"
MODULE=github.com/cert-manager/cert-manager

# Builds must not be influenced by a go.work the main repository may grow.
export GOWORK=off

inputs_hash() {
  {
    go env GOVERSION GOOS GOARCH
    sha256sum "${MOD}/go.mod" "${MOD}/go.sum" "${MOD}/main.go" \
      "${REPO_ROOT}/hack/build-cert-manager.sh" | awk '{print $1}'
  } | sha256sum | awk '{print $1}'
}

# The pinned version, read without the module machinery (fast no-op path).
pinned() { # go.mod
  awk -v m="${MODULE}" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$1" | head -n1
}
VERSION="$(pinned "${MOD}/go.mod")"
PROJECT_VERSION="$(pinned "${REPO_ROOT}/go.mod")"
if [[ -z "${VERSION}" ]]; then
  echo "error: hack/cert-manager/go.mod does not require ${MODULE}" >&2
  exit 1
fi
if [[ -n "${PROJECT_VERSION}" && "${PROJECT_VERSION}" != "${VERSION}" ]]; then
  echo "error: go.mod requires ${MODULE} ${PROJECT_VERSION} but hack/cert-manager/go.mod requires ${VERSION};" >&2
  echo "       the tests must run the cert-manager whose API types the project uses. Bump both:" >&2
  echo "       (cd hack/cert-manager && GOWORK=off go get ${MODULE}@${PROJECT_VERSION} && GOWORK=off go mod tidy)" >&2
  exit 1
fi

HASH="$(inputs_hash)"
if [[ -z "${FORCE:-}" && -x "${OUT_DIR}/cert-manager" && -f "${STAMP}" ]] &&
  grep -qxF "${VERSION} ${HASH}" "${STAMP}" && compgen -G "${OUT_DIR}/crds/*.yaml" >/dev/null; then
  echo "bin/cert-manager: cert-manager ${VERSION} up to date"
  exit 0
fi

mkdir -p "${OUT_DIR}"
tmp="${OUT_DIR}/.cert-manager.tmp"
crds_tmp="${OUT_DIR}/.crds.tmp"
trap 'rm -rf "${tmp}" "${crds_tmp}"' EXIT

echo "building bin/cert-manager/cert-manager (cert-manager ${VERSION}, hack/cert-manager) ..."
start="$(date +%s)"
(
  cd "${MOD}"
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X ${MODULE}/pkg/util.AppVersion=${VERSION}" \
    -o "${tmp}" .
)

# The CRDs of the same module version, from the module cache.
src="$(cd "${MOD}" && go mod download -json "${MODULE}@${VERSION}" | awk -F'"' '$2 == "Dir" { print $4 }')"
if ! compgen -G "${src}/deploy/crds/*.yaml" >/dev/null; then
  echo "error: no CRDs in ${src}/deploy/crds (did ${MODULE} move them?)" >&2
  exit 1
fi
rm -rf "${crds_tmp}"
mkdir -p "${crds_tmp}"
cp "${src}"/deploy/crds/*.yaml "${crds_tmp}/"
chmod 0644 "${crds_tmp}"/*.yaml

mv -f "${tmp}" "${OUT_DIR}/cert-manager"
rm -rf "${OUT_DIR}/crds"
mv "${crds_tmp}" "${OUT_DIR}/crds"
echo "${VERSION} ${HASH}" >"${STAMP}"
echo "built bin/cert-manager/cert-manager and bin/cert-manager/crds ($(ls "${OUT_DIR}/crds" | wc -l) CRDs) in $(( $(date +%s) - start ))s"
