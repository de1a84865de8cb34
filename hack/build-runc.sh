#!/usr/bin/env bash
# Builds runc into bin/runc from the Go module proxy, with cgo and libseccomp
# from Debian's libseccomp-dev (build tag seccomp), for the local cluster
# (internal/localcluster makes it containerd's runc when it runs).
#
# Why: SCMP_ACT_ERRNO refusals reach the kernel log only when the filter is
# loaded with SECCOMP_FILTER_FLAG_LOG, which a profile asks for with
# "flags": ["SECCOMP_FILTER_FLAG_LOG"]. runc loads a profile's flags from 1.2;
# Debian 12's runc 1.1.5 refuses a profile with flags ("seccomp flags are not
# yet supported by runc"), so under it errno refusals are silent
# (docs/testing.md, docs/violations.md "Silent refusals").
#
# The version is the one hack/runc/go.mod requires (its tool directive); it
# must equal RUNC_VERSION (the Makefile's pin, passed in the environment), or
# the build stops and says how to bump both.
#
# Best effort: without a C compiler, pkg-config or libseccomp-dev the build is
# skipped with a warning and exit status 0, and the local cluster runs
# Debian's runc (errno refusals then stay silent). A failing compile is an
# error.
#
# Idempotent: bin/.runc.stamp records the version and a hash of the build
# inputs (hack/runc's go.mod and go.sum, this script, the Go version). With a
# matching stamp and a bin/runc that runs, the build is skipped. FORCE=1
# rebuilds.
#
# Usage (from anywhere): RUNC_VERSION=v1.3.7 bash hack/build-runc.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

OUT="${REPO_ROOT}/bin/runc"
STAMP="${REPO_ROOT}/bin/.runc.stamp"
MOD="${REPO_ROOT}/hack/runc"
MODULE=github.com/opencontainers/runc
# runc's own Makefile builds with these tags: seccomp links libseccomp,
# urfave_cli_no_docs leaves out the man-page generator.
TAGS="seccomp urfave_cli_no_docs"

export GOWORK=off

inputs_hash() {
  {
    go env GOVERSION GOOS GOARCH
    sha256sum "${MOD}/go.mod" "${MOD}/go.sum" "${REPO_ROOT}/hack/build-runc.sh" | awk '{print $1}'
  } | sha256sum | awk '{print $1}'
}

# The pinned version, read without the module machinery (fast no-op path).
VERSION="$(awk -v m="${MODULE}" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "${MOD}/go.mod" | head -n1)"
if [[ -z "${VERSION}" ]]; then
  echo "error: hack/runc/go.mod does not require ${MODULE}" >&2
  exit 1
fi
if [[ -n "${RUNC_VERSION:-}" && "${RUNC_VERSION}" != "${VERSION}" ]]; then
  echo "error: RUNC_VERSION is ${RUNC_VERSION} but hack/runc/go.mod requires ${MODULE} ${VERSION}." >&2
  echo "       To build ${RUNC_VERSION}, pin it in both: set RUNC_VERSION in the Makefile and run" >&2
  echo "       (cd hack/runc && GOWORK=off go get ${MODULE}@${RUNC_VERSION} && GOWORK=off go mod tidy)" >&2
  exit 1
fi

HASH="$(inputs_hash)"
if [[ -z "${FORCE:-}" && -x "${OUT}" && -f "${STAMP}" ]] && grep -qxF "${VERSION} ${HASH}" "${STAMP}" &&
  "${OUT}" --version >/dev/null 2>&1; then
  echo "bin/runc: runc ${VERSION} up to date"
  exit 0
fi

# What the cgo build needs; without it, say why and fall back.
missing=()
cc="$(go env CC)"
command -v "${cc:-gcc}" >/dev/null 2>&1 || missing+=("a C compiler (${cc:-gcc}: apt-get install gcc)")
if ! command -v pkg-config >/dev/null 2>&1; then
  missing+=("pkg-config (apt-get install pkg-config)")
elif ! pkg-config --exists libseccomp; then
  missing+=("libseccomp's headers (apt-get install libseccomp-dev)")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  debian="$(command -v runc 2>/dev/null || true)"
  {
    echo "warning: not building bin/runc (runc ${VERSION} with seccomp): missing $(IFS=';'; echo "${missing[*]}" | sed 's/;/, /g')."
    echo "         As root, 'make node-deps' installs them; then run 'make runc'."
    if [[ -x "${OUT}" ]]; then
      echo "         The local cluster keeps using the bin/runc built earlier ($("${OUT}" --version 2>/dev/null | head -n1))."
    elif [[ -n "${debian}" ]]; then
      echo "         The local cluster uses Debian's ${debian} ($("${debian}" --version 2>/dev/null | head -n1)) instead: under runc"
      echo "         older than 1.2, SCMP_ACT_ERRNO refusals are not logged and a profile with \"flags\" fails to"
      echo "         start (docs/testing.md)."
    else
      echo "         No runc is installed either: apt-get install runc (make node-deps)."
    fi
  } >&2
  exit 0
fi

mkdir -p "$(dirname "${OUT}")"
tmp="${OUT}.tmp"
trap 'rm -f "${tmp}"' EXIT

echo "building bin/runc (runc ${VERSION}, hack/runc, cgo with libseccomp $(pkg-config --modversion libseccomp)) ..."
start="$(date +%s)"
(
  cd "${MOD}"
  CGO_ENABLED=1 go build -trimpath -buildmode=pie -tags "${TAGS}" \
    -ldflags "-X main.gitCommit=${VERSION}-module-proxy" \
    -o "${tmp}" "${MODULE}"
)
# The version the binary reports must be the pinned one (runc embeds its
# VERSION file) and libseccomp must be linked (a build without the seccomp
# tag prints no libseccomp line and runs every profile as unconfined).
report="$("${tmp}" --version)"
if ! grep -qx "runc version ${VERSION#v}" <<<"${report}" || ! grep -q '^libseccomp: ' <<<"${report}"; then
  echo "error: the built runc reports:" >&2
  echo "${report}" >&2
  echo "       expected 'runc version ${VERSION#v}' and a 'libseccomp:' line" >&2
  exit 1
fi
mv -f "${tmp}" "${OUT}"
echo "${VERSION} ${HASH}" >"${STAMP}"
echo "built bin/runc in $(( $(date +%s) - start ))s:"
sed 's/^/    /' <<<"${report}"
