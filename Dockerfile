# The classter-hubspot daemon's image. Build from the repository root:
#   docker build -t classter-hubspot:0.1.0 .
# The base is pinned by exact tag; to pin it by digest as well, pass
#   --build-arg PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:<index digest>
# The user (uid/gid 10001) is the one the Helm chart's securityContext runs as.
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm

# --- build: every wheel, resolved with the tested pins, into a virtualenv ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first: this layer is reused until a pin or pyproject.toml changes.
COPY requirements/constraints.txt requirements/constraints.txt
COPY pyproject.toml README.md ./
COPY consumer/ consumer/
RUN pip wheel --wheel-dir /wheels --constraint requirements/constraints.txt . \
 && python -m venv /opt/classter-hubspot \
 && /opt/classter-hubspot/bin/pip install --no-index --no-deps /wheels/*.whl \
 && /opt/classter-hubspot/bin/pip check

# --- runtime: the interpreter, the virtualenv, a non-root user; no compilers, no wheels ----------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="classter-hubspot" \
      org.opencontainers.image.description="Syncs Classter school events from Kafka into HubSpot CRM" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/classter-hubspot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 classter \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin classter
COPY --from=build /opt/classter-hubspot /opt/classter-hubspot
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /tmp
# /metrics, /healthz, /readyz (http.port; the chart sets 8080).
EXPOSE 8080
# Exec form: the daemon is PID 1 and gets SIGTERM itself (drain, commit, exit).
ENTRYPOINT ["classter-hubspot"]
CMD ["run", "--config", "/etc/classter-hubspot/config.yaml"]
