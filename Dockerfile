# The stbridge relayer. Runs from the committed contract artifacts: no compiler,
# no Node.js at run time. The base image is pinned to a full Python version (both
# stages the same); docker-compose.yml builds this once as stbridge:local.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY relayer ./relayer
COPY chains ./chains
RUN pip install --no-cache-dir --prefix=/install ".[postgres]"

FROM python:3.11.11-slim-bookworm
RUN useradd --create-home --uid 10001 stbridge
COPY --from=build /install /usr/local
WORKDIR /app
COPY configs ./configs
COPY contracts/out ./contracts/out
ENV STBRIDGE_HOME=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown stbridge /data
USER stbridge
VOLUME ["/data"]
EXPOSE 9464
ENTRYPOINT ["stbridge"]
CMD ["run", "--config", "configs/docker.toml", "--log-format", "json"]
