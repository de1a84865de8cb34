# syntax=docker/dockerfile:1
#
# seccomp-guard's image: one static binary, run by the webhook Deployment and
# the agent DaemonSet of charts/seccomp-guard.
#
#   docker build \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t ghcr.io/seccomp-guard/seccomp-guard:0.1.0 .
#
# `make image` builds the same image without a container engine
# (internal/imagebuild); its tests fail when this file's user, entrypoint,
# labels or go build line differ from what `make image` uses.

ARG GO_VERSION=1.26

# Cross-compiles on the build machine's platform for the target's.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
# Set by BuildKit (docker build, docker buildx --platform); empty otherwise: the host's.
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/seccomp-guard/seccomp-guard/internal/version.Version=${VERSION} -X github.com/seccomp-guard/seccomp-guard/internal/version.Commit=${REVISION}" \
      -o /out/seccomp-guard ./cmd/seccomp-guard

# No shell, no package manager: the nonroot user (65532), /etc/passwd, /tmp.
FROM gcr.io/distroless/static:nonroot
ARG SOURCE=https://github.com/seccomp-guard/seccomp-guard
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build --chown=65532:65532 /out/seccomp-guard /seccomp-guard
USER 65532:65532
ENTRYPOINT ["/seccomp-guard"]
