# syntax=docker/dockerfile:1
# rallybot in a container: the wheel and the locked dependencies, on python:3.11-slim, as a
# user without privileges. Every install step is deploy/install.sh, which
# tests/e2e/test_wheel.py runs the same way in a fresh virtualenv.
#   docker build -t rallybot .
#   docker run --env-file .env -p 3000:3000 rallybot web     (or: run, worker, migrate, …)
# compose.yaml runs PostgreSQL, the release step (migrate), web and worker together.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# rallybot's wheel (config/ and migrations/ inside) and every pinned dependency's wheel.
RUN sh deploy/install.sh wheels /src /wheels

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/rallybot/bin:$PATH \
    RALLYBOT_DATA_DIR=/data \
    PORT=3000 \
    RALLYBOT_METRICS_PORT=9100
COPY deploy/install.sh /tmp/install.sh
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    sh /tmp/install.sh install /wheels /opt/rallybot \
    && rm /tmp/install.sh \
    && useradd --system --uid 10001 --home-dir /data --create-home rallybot
USER rallybot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
# /livez on the metrics port (localhost inside the container): every command serves it
# (`web` also on $PORT). It never touches the database, so a slow database restarts nothing.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.ops.probe"]
ENTRYPOINT ["rallybot"]
CMD ["run"]
