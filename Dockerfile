# The kaspix job server (`kaspix serve`) with the core and the plugins named in PLUGINS.
#
#   docker build -t kaspix-serve .                                   # core + the example plugin
#   docker build -t kaspix-serve --build-arg PLUGINS="kaspix-spice examples/kaspix-example-rc" \
#                --build-arg APT_PACKAGES="ngspice libngspice0" .    # + the spice plugin (pulls torch)
#
# kaspix-cspace needs kaspix-esn-rs, a Rust extension: build its wheel first (maturin) and add it.
# Run it with docker-compose.yml (persistent folders, token required). The server listens on
# 0.0.0.0 inside the container, so it refuses to start without KASPIX_SERVE_TOKEN.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ARG PLUGINS="examples/kaspix-example-rc"
ARG APT_PACKAGES=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN if [ -n "$APT_PACKAGES" ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $APT_PACKAGES \
      && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /opt/kaspix
COPY . .
RUN pip install "./kaspix-core[serve]" $(for p in $PLUGINS; do printf './%s ' "$p"; done) && kaspix plugins

# Jobs run as an ordinary user; the three folders are the volumes of docker-compose.yml.
RUN useradd --create-home --uid 1000 kaspix \
    && mkdir -p /srv/kaspix/server /srv/kaspix/runs /srv/kaspix/data \
    && chown -R kaspix:kaspix /srv/kaspix
USER kaspix
WORKDIR /srv/kaspix
VOLUME ["/srv/kaspix/server", "/srv/kaspix/runs", "/srv/kaspix/data"]
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, urllib.request as u; \
u.urlopen(u.Request('http://127.0.0.1:8765/api/pipelines', headers={'Authorization': 'Bearer ' + os.environ.get('KASPIX_SERVE_TOKEN', '')}), timeout=4)"
CMD ["kaspix", "serve", "--host", "0.0.0.0", "--port", "8765", "--data", "/srv/kaspix/server", "--runs-dir", "/srv/kaspix/runs"]
