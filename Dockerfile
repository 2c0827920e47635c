# observe as an image: `observe run` (logs to the sinks, metrics on :10077) for the host whose engine it is given.
#
#   docker build -t observe .
#   docker run -d --name observe --network host --restart unless-stopped \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /sys/fs/cgroup:/host/sys/fs/cgroup:ro -v /proc:/host/proc:ro \
#     -v /var/lib/docker/containers:/var/lib/docker/containers:ro \
#     -v observe-state:/var/lib/observe observe run --sink syslog+tcp://logs.example:514
#
# BASE picks the Python base image: python:3.11-slim by default; scripts/base-image.sh builds an equivalent one
# from Debian's packages where no registry answers. PIP_OPTIONS are passed to pip, e.g. an offline wheel folder
# (scripts/image.sh: "--no-index --find-links /src/build/wheels").
ARG BASE=python:3.11-slim

# COMPILE=1 (the default) compiles the log path's hot modules with mypyc, which needs a C compiler and Python's
# headers in the build stage: they are installed there from the base's package archive (the final image holds
# neither). Where no archive answers, or with COMPILE=0, the build goes on and the log path runs interpreted
# (about two thirds of the compiled speed).
FROM ${BASE} AS build
ARG PIP_OPTIONS=""
ARG COMPILE=1
COPY . /src
RUN if [ "$COMPILE" = 1 ] && ! command -v gcc >/dev/null && command -v apt-get >/dev/null; then \
      headers=""; \
      python3 -c "import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()['include'] + '/Python.h'))" \
        || headers=python3-dev; \
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          gcc libc6-dev $headers >/dev/null; } \
        || echo "observe: no C compiler could be installed; the log path runs interpreted" >&2; \
    fi \
 && python3 -m venv /opt/observe \
 && OBSERVE_COMPILE=$COMPILE /opt/observe/bin/pip install --no-cache-dir --disable-pip-version-check --no-compile \
      ${PIP_OPTIONS} /src \
 && /opt/observe/bin/pip uninstall --yes --quiet pip \
 && /opt/observe/bin/python -m compileall -q /opt/observe/lib >/dev/null

FROM ${BASE}
COPY --from=build /opt/observe /opt/observe
# The host's roots are mounted under /host; the json-file logs at the engine's own path, since inspect names it.
ENV PATH=/opt/observe/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    OBSERVE_LISTEN=:10077 \
    OBSERVE_STATE_DIR=/var/lib/observe \
    OBSERVE_CGROUP_ROOT=/host/sys/fs/cgroup \
    OBSERVE_PROC_ROOT=/host/proc
VOLUME /var/lib/observe
EXPOSE 10077
# Reads the port from OBSERVE_LISTEN, so a changed --listen needs the same value in the variable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python3", "-c", "import os, urllib.request; h, _, p = os.environ.get('OBSERVE_LISTEN', ':10077').rpartition(':'); h = h.strip('[]'); h = '127.0.0.1' if h in ('', '0.0.0.0', '::') else h; urllib.request.urlopen(f'http://{h}:{p}/healthz', timeout=4)"]
ENTRYPOINT ["observe"]
CMD ["run"]
