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

# Dependencies first, against empty packages, so editing the code does not
# download pyspark again; then the real packages without their dependencies.
COPY setup.cfg pyproject.toml README.md /src/
RUN mkdir -p /src/pipeline /src/service /src/es_mappings \
 && touch /src/pipeline/__init__.py /src/service/__init__.py /src/es_mappings/__init__.py \
 && pip install /src \
 && rm -rf /src
COPY setup.cfg pyproject.toml README.md /src/
COPY pipeline /src/pipeline
COPY service /src/service
COPY es_mappings /src/es_mappings
RUN pip install --no-deps --force-reinstall /src && rm -rf /src

WORKDIR /app
COPY --chown=movierec:movierec scripts ./scripts
COPY --chown=movierec:movierec kibana_saved_objects ./kibana_saved_objects

USER movierec
VOLUME ["/data"]
EXPOSE 5000
CMD ["movierec", "--help"]
