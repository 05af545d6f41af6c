# syntax=docker/dockerfile:1
# Model Gatekeeper: the `gatekeeper` command with OPA and the policies beside it.
#   docker build -t model-gatekeeper:0.1.0 .
#   docker run --rm -p 8443:8443 model-gatekeeper:0.1.0      (plain HTTP on 8443, the
#   bundled policies and example evidence, OPA started by the gate on loopback)
# In Kubernetes (deploy/) OPA runs as a sidecar and this image serves HTTPS.

# Keep equal to OPA_VERSION in scripts/tools.env (without the "v"); the test in
# tests/deploy checks it, and deploy/ pins the sidecar image to the same release.
ARG OPA_VERSION=1.22.2
ARG PYTHON_IMAGE=python:3.11-slim

# --- 1: OPA, the official static build of the pinned release (the same binary as the
# openpolicyagent/opa:<version>-static sidecar).
FROM openpolicyagent/opa:${OPA_VERSION}-static AS opa

# --- 2: the project's wheel, installed with its dependencies into a virtualenv.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE* constraints.txt ./
COPY src/ ./src/
# No extras: everything `serve`, `check` and the webhook import is a plain dependency, and
# constraints.txt pins the versions the tests ran with. tests/e2e/test_as_deployed_e2e.py
# installs exactly this way (tests/deploy checks the two agree).
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt /wheels/model_gatekeeper-*.whl

# --- 3: runtime: Python, the installed wheel, opa, the policies and example evidence.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home \
      --shell /usr/sbin/nologin nonroot
COPY --from=opa /opa /usr/local/bin/opa
COPY --from=build /opt/venv /opt/venv
# Relative defaults resolve here: policies/, examples/evidence, .gatekeeper/ (SQLite).
WORKDIR /opt/model-gatekeeper
COPY policies/ ./policies/
COPY examples/evidence/ ./examples/evidence/
# Code and policies stay root-owned (read-only to the gate); only the SQLite audit
# folder of standalone use is writable.
RUN install -d -o 65532 -g 65532 -m 0750 .gatekeeper
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443
# No curl in slim images: Python asks /healthz. Set GATEKEEPER_HEALTHCHECK_URL when
# serving elsewhere (https is accepted; the loopback check does not verify the cert).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, ssl, urllib.request; urllib.request.urlopen(os.environ.get('GATEKEEPER_HEALTHCHECK_URL', 'http://127.0.0.1:8443/healthz'), timeout=3, context=ssl._create_unverified_context())"]
ENTRYPOINT ["gatekeeper"]
CMD ["serve", "--host", "0.0.0.0"]
