# syntax=docker/dockerfile:1
# ethos gateway image. Hardened run (docs/deploy.md):
#   docker run --user 1000:1000 --read-only --tmpfs /tmp \
#     -v /data/ethos:/home/ethos/.ethos --health-cmd="ethos health" ethos:latest
# Verify inside the container with: docker run ... ethos:latest harden check

# --- build: wheels for ethos-core and the first-party Telegram adapter ----------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ethos_core ./ethos_core
COPY plugins/ethos-telegram ./plugins/ethos-telegram
RUN pip wheel --wheel-dir /wheels . ./plugins/ethos-telegram

# --- runtime ---------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/ethos \
    ETHOS_HOME=/home/ethos/.ethos
# A fixed non-root user 1000:1000 owns only its home; nothing else in the image is writable by it.
RUN groupadd --gid 1000 ethos \
 && useradd --uid 1000 --gid 1000 --home-dir /home/ethos --create-home --shell /usr/sbin/nologin ethos \
 && install -d -m 0700 -o 1000 -g 1000 /home/ethos/.ethos
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels ethos-core ethos-telegram \
 && rm -rf /wheels
USER 1000:1000
WORKDIR /home/ethos
# Configuration, state.db and observability.db (WAL needs a real filesystem): a persistent volume.
VOLUME /home/ethos/.ethos
# No ports: the gateway polls its platforms; nothing listens.
HEALTHCHECK --interval=30s --timeout=20s --start-period=30s --retries=3 CMD ["ethos", "health"]
# umask 077: every file the gateway creates in the volume is private to its owner.
ENTRYPOINT ["/bin/sh", "-c", "umask 077 && exec ethos \"$@\"", "ethos"]
CMD ["gateway", "run"]
