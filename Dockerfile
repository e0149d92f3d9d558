# syntax=docker/dockerfile:1
#
# The image the manifests deploy (manifests/base/kustomization.yaml):
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/image-updater/image-updater:v0.1.0 .
# The tag is "v" + the package version, so `image-updater version` matches the image tag.

# Both stages use one base so the wheel is built for exactly the interpreter that runs it.
# RELEASE: pin a digest before publishing (`docker buildx imagetools inspect
# python:3.11-slim-bookworm` prints it) and pass it as
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>
# The unpinned default below is deliberate: no digest is written here that nobody has checked.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# Only what the wheel is made of (.dockerignore keeps tests, docs and caches out), so a
# change to a test does not invalidate this layer.
COPY pyproject.toml README.md ./
COPY imageupdater ./imageupdater
COPY webhook ./webhook
COPY reconciler ./reconciler
COPY certs ./certs
COPY devcluster ./devcluster
# Build isolation fetches the setuptools pyproject.toml asks for; the base's may be older.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="image-updater" \
      org.opencontainers.image.description="Keeps Argo CD Applications' container images current: admission webhook + reconciler." \
      org.opencontainers.image.source="https://github.com/image-updater/image-updater" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

# Git write-back shells out to git, which needs ssh for ssh:// remotes and gpg for signed
# commits; nothing else from Debian is needed at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client gnupg \
    && rm -rf /var/lib/apt/lists/*

# Only the wheel crosses over from the build stage: no compilers, sources or build backend
# end up in the image. Dependencies come as wheels from the index.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --compile /wheels/*.whl

# 65532 is the UID/GID the manifests' securityContext runs as (runAsUser: 65532); a numeric
# USER lets runAsNonRoot verify it without reading /etc/passwd.
RUN groupadd --gid 65532 image-updater \
    && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin image-updater
USER 65532:65532
WORKDIR /app
# The root filesystem is read-only in the manifests: HOME points at the writable /tmp (git
# and gpg write their config and sockets there) and Python writes no bytecode.
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

ENTRYPOINT ["image-updater"]
