# The movierec application image: the package, a Java 17 runtime for PySpark,
# native BLAS/LAPACK for ALS. docker-compose.yaml runs every application service
# from it: spark-master and spark-worker (Spark from this image's pyspark, so the
# driver and the executors share one Spark build, one Python and one copy of the
# code), setup, pipeline and api.
#
# bookworm, not the moving `python:3.11-slim` tag: Debian trixie has no
# openjdk-17 package.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYSPARK_PYTHON=python3 \
    PYSPARK_DRIVER_PYTHON=python3

# The man directory must exist for the JRE's post-install step on slim images.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless libopenblas0 liblapack3 procps \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 movierec \
 && useradd --system --uid 1000 --gid movierec --create-home --home-dir /home/movierec movierec \
 && mkdir -p /app /data \
 && chown movierec:movierec /app /data
# (A named volume mounted at /data starts as a copy of this folder: owned by movierec.
# No VOLUME line: it would give every other service an anonymous volume.)

# Dependencies first, from the lock file alone (constraints.txt: every package and
# version pinned), so editing the code or README does not download pyspark again;
# then the package itself without dependencies, and `pip check` that nothing is missing.
COPY constraints.txt /tmp/constraints.txt
RUN pip install -r /tmp/constraints.txt && rm /tmp/constraints.txt
COPY setup.cfg pyproject.toml README.md /src/
COPY pipeline /src/pipeline
COPY service /src/service
COPY es_mappings /src/es_mappings
RUN pip install --no-deps /src && rm -rf /src && pip check

WORKDIR /app
COPY --chown=movierec:movierec scripts ./scripts
COPY --chown=movierec:movierec kibana_saved_objects ./kibana_saved_objects

USER movierec
EXPOSE 5000
CMD ["movierec", "--help"]
