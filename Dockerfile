# zoomforce as a container: the wheel on a slim Python, run as a non-root user, `zoomforce` as entrypoint.
# No credential is baked in: Zoom, Salesforce, the webhook secret and the state URL come from the
# environment at run time (a Kubernetes Secret, a compose env file). Build and run: docs/service.md.
#
#   docker build -t zoomforce:0.1.0 .
#   docker run --rm zoomforce:0.1.0 --help

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY schemas ./schemas
COPY mappings ./mappings
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 zoomforce \
    && useradd --system --uid 10001 --gid zoomforce --home-dir /var/lib/zoomforce --create-home zoomforce
USER 10001:10001
WORKDIR /var/lib/zoomforce
EXPOSE 8000
ENTRYPOINT ["zoomforce"]
CMD ["--help"]
