# syntax=docker/dockerfile:1
# commerce-exporter: slim, non-root, demo mode by default.
#   docker build -t commerce-exporter .
#   docker run -p 9814:9814 commerce-exporter                       # demo data (SQLite, built in)
#   docker run -p 9814:9814 -e COMMERCE_DATABASE_URL=postgresql+psycopg://user@db/shop commerce-exporter serve
#   docker run -p 9814:9814 -v "$PWD/config.yml:/etc/commerce-exporter/config.yml:ro" \
#       commerce-exporter serve --config /etc/commerce-exporter/config.yml
# Without a Docker engine (Debian, podman, no registry): bash .ci/build-image, see docs/operations.md.
# Any Debian-based Python >= 3.11 image works as PYTHON_IMAGE (python3 and venv as `python`).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The dependency list, from pyproject.toml: the postgres and mysql extras are included, the image
# should reach every supported database.
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
e = p['optional-dependencies']; print('\n'.join(p['dependencies'] + e['postgres'] + e['mysql']))" > requirements.txt

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first. The cache of a COPY follows the copied file's content, so this layer is
# rebuilt only when the list changes: not for an edit of the source, README.md or of pyproject.toml's
# tool settings. setuptools is not needed at run time (pip builds the package in an isolated
# environment); pip stays, so an image built FROM this one can `pip install` a third-party provider.
COPY --from=requirements /src/requirements.txt ./
RUN /opt/venv/bin/pip install -r requirements.txt \
    && /opt/venv/bin/pip uninstall --yes setuptools
# Then the package; --no-deps: everything it needs is installed above.
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY providers ./providers
RUN /opt/venv/bin/pip install --no-deps .

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 exporter \
    && useradd --system --uid 10001 --gid exporter --home-dir /var/lib/commerce-exporter --create-home \
       --shell /usr/sbin/nologin exporter \
    && mkdir -p /etc/commerce-exporter \
    && chown exporter:exporter /etc/commerce-exporter
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COMMERCE_DEMO_DB=/var/lib/commerce-exporter/demo.sqlite
# Configuration (config.yml, password files, web config) is mounted here.
VOLUME ["/etc/commerce-exporter"]
USER 10001:10001
WORKDIR /var/lib/commerce-exporter
EXPOSE 9814
# /-/healthy answers while the process runs. Assumes plain HTTP on the default port: with TLS or
# another server.listen, override it (docker run --health-cmd …) or disable it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9814/-/healthy', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["commerce-exporter"]
CMD ["serve", "--demo"]
