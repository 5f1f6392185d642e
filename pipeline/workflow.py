"""`movierec run`: data in, a verified model served behind the aliases, a run record out.

    check cluster ─► mark dead runs abandoned ─► record "running" (heartbeat from here on)
      ─► read online feedback (snapshot) ─► load+clean ─► dataset + feedback ─► features
      ─► (tune) ─► (evaluate, dataset only) ─► train on everything ─► `similar` vectors ─► create versioned indices
      ─► export (executors) ─► refresh + verify counts and sampled vectors
      ─► serving fidelity (kNN vs exact, HNSW estimate) ─► ONE atomic alias swap
      ─► re-fold users whose feedback changed during the run ─► record "succeeded", flip `active`
      ─► prune old indices

Anything failing before the swap, SIGTERM and SIGINT included, leaves the aliases
where they were: Spark jobs are cancelled, the run is recorded as failed with its
errors, and its new indices are deleted unless `keep_failed`. The Spark half
(`prepare`) and the Elasticsearch half are separate so a prepared model can be
published again (and tests train once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

import es_mappings
from pipeline import datasets, export, indices, runs
from pipeline.als import ALSParams, TrainedModel, coerce_params
from pipeline.errors import ExportError, PipelineError
from pipeline.es import UnsupportedVersion, check_version, client_options, redact_url
from pipeline.publish import hygiene
from pipeline.similarity.representations import DEFAULT_SPEC, SimilaritySpec

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_SIZE = 20
SAMPLE_SEED = 7
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunConfig:
    """Everything one `movierec run` needs.

    dataset / data_dir: the MovieLens edition and the folder holding it (or its parent).
    es_url: cluster URL (None: $ES_URL, then http://localhost:9200); credentials and TLS from the environment.
    prefix: index/alias prefix (default "movierec").
    master: Spark master (None: local[*], or what spark-submit gave).
    spark_conf: extra Spark settings.
    params: ALS parameters (kind, rank, …).
    evaluate: measure the model on the dataset's protocol before training on everything.
    tune: grid-search ALS parameters first (implies evaluate) and train the best.
    keep: versioned indices kept per kind after a successful swap (default 2; the live one always).
    keep_failed: leave a failed run's indices in place for inspection.
    sample_size: movies and users whose vectors are read back and compared (default 20 each).
    bulk: per-partition bulk settings.
    export_partitions: minimum partitions (parallel bulk writers) per index (None: Spark's default parallelism).
    max_reject_share: cleaning's reject threshold.
    stale_after_s: a `running` run whose heartbeat is older than this is taken for dead and marked abandoned
        (default 120; the heartbeat comes every stale_after_s / 8 seconds, at most every 15).
    similarity: how the movie→movie `similar` vectors are built (pipeline.similarity).
    """

    dataset: str
    data_dir: Path
    es_url: str | None = None
    prefix: str = es_mappings.DEFAULT_PREFIX
    master: str | None = None
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    params: ALSParams = field(default_factory=ALSParams)
    evaluate: bool = False
    tune: bool = False
    keep: int = indices.DEFAULT_KEEP
    keep_failed: bool = False
    sample_size: int = DEFAULT_SAMPLE_SIZE
    bulk: export.BulkSettings = field(default_factory=export.BulkSettings)
    export_partitions: int | None = None
    max_reject_share: float = 0.01
    stale_after_s: float = hygiene.DEFAULT_STALE_AFTER_S
    similarity: SimilaritySpec = DEFAULT_SPEC

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError("keep must be >= 1")
        if self.stale_after_s <= 0:
            raise ValueError("stale_after_s must be > 0")
        if self.sample_size < 0:
            raise ValueError("sample_size must be >= 0")


@dataclass
class Prepared:
    """The Spark half of a run: frames ready to export and what the record needs to say."""

    dataset: str
    data_files: dict[str, str]
    model: TrainedModel
    frames: dict[str, Any]  # kind -> DataFrame, cached
    counts: dict[str, int]
    samples: dict[str, dict[str, list[float]]]  # kind -> doc id -> Spark vector
    rejected: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    online: dict[str, int] = field(default_factory=dict)  # online feedback trained on (counts for the record)
    snapshot: dict[int, tuple[int, int]] = field(default_factory=dict)  # feedback versions trained on
    untrained: list[int] = field(default_factory=list)  # feedback users the model has no row for

    def unpersist(self) -> None:
        for frame in self.frames.values():
            frame.unpersist()


@dataclass
class RunResult:
    """What a run produced: its final record and, in-process, the model and frames."""

    record: dict
    prepared: Prepared | None = None


class _Timer:
    """Collects seconds per step into `timings` and logs them."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.current = "start"

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.current = name
        started = time.monotonic()
        log.info("step %s ...", name)
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - started
            log.info("step %s: %.1fs", name, self.timings[name])


# --------------------------------------------------------------------------- cluster


def check_cluster(es: Elasticsearch, url: str) -> dict:
    """Fail fast, naming the URL, when the cluster cannot be reached or refuses us."""
    try:
        info = es.options(request_timeout=CONNECT_TIMEOUT_S, max_retries=0).info()
    except ApiError as exc:
        raise ExportError(
            f"Elasticsearch at {redact_url(url)} answered {exc.status_code}: {exc.message} (check ES_API_KEY / ES_USERNAME)"
        ) from exc
    except TransportError as exc:
        raise ExportError(f"Elasticsearch at {redact_url(url)} is unreachable: {redact_url(str(exc))}") from exc
    log.info("Elasticsearch %s at %s", info["version"]["number"], redact_url(url))
    try:
        check_version(info["version"]["number"])
    except UnsupportedVersion as exc:
        raise ExportError(f"{exc} (at {redact_url(url)})") from exc
    return dict(info)


def bootstrap(es: Elasticsearch, prefix: str) -> dict[str, bool]:
    """Prepare a cluster: the runs index and the feedback indices, created when missing, otherwise their
    mappings brought up to date with es_mappings' ({index: created now}; run indices come with the first run).
    Raises indices.MappingConflict when an existing index maps a field with another type."""
    from service import feedback

    created = {indices.runs_index(prefix): indices.ensure_runs_index(es, prefix), **feedback.ensure_indices(es, prefix)}
    indices.update_plain_mappings(es, prefix, skip=[index for index, new in created.items() if new])
    return created


# --------------------------------------------------------------------------- Spark half


def input_files(dataset: str, data_dir: Path) -> dict[str, str]:
    """sha256 of the files the dataset is loaded from."""
    from pipeline.loaders import resolve_folder

    edition = datasets.get(dataset)
    folder = resolve_folder(edition, data_dir)
    return runs.file_hashes([folder / name for name in edition.required_files], root=folder)


def _rejected(report: Mapping[str, Any]) -> int:
    """Rejected rating rows from cleaning's report."""
    return int(report.get("ratings_rejected") or 0)


def _vector_sample(frame: Any, id_col: str, n: int) -> dict[str, list[float]]:
    """Up to `n` random (id, factors) pairs with a vector, as the verification reference."""
    from pyspark.sql import functions as F

    if n <= 0:
        return {}
    rows = frame.where(F.col(export.FACTORS).isNotNull()).select(id_col, export.FACTORS).orderBy(F.rand(SAMPLE_SEED)).limit(n).collect()
    return {str(r[0]): list(r[1]) for r in rows}


def _bias_summary(frame: Any) -> dict[str, float]:
    from pyspark.sql import functions as F

    row = frame.agg(F.count("*"), F.avg("bias"), F.min("bias"), F.max("bias"), F.stddev("bias")).first()
    return {"count": int(row[0]), "mean": row[1], "min": row[2], "max": row[3], "std": row[4]}


def _evaluate(spark: Any, tables: Any, config: RunConfig, timer: _Timer) -> tuple[ALSParams, dict, dict]:
    """Tune and/or evaluate on the dataset's protocol; (params to train, mapped metrics, full report)."""
    from pipeline import evaluate as evaluation

    params = config.params
    report: dict[str, Any] = {}
    if config.tune:
        with timer.step("tune"):
            tuned = evaluation.tune_for_run(spark, tables, config.dataset, config.data_dir, params)
            params = coerce_params(tuned["best_params"])
            report["tuning"] = tuned
    with timer.step("evaluate"):
        measured = evaluation.evaluate_for_run(spark, tables, config.dataset, config.data_dir, params)
        report["evaluation"] = measured
    return params, dict(measured.get("metrics", {})), report


def prepare(spark: Any, config: RunConfig, timer: _Timer | None = None, online: Any = None) -> Prepared:
    """Load, clean, add the online feedback, build features, optionally tune/evaluate, train, shape the export frames.

    `timer` (run_pipeline's) records each step's seconds and which step is running. `online`
    (pipeline.data.feedback.OnlineFeedback) is trained on with the dataset; tuning and evaluation use the
    dataset alone, so their figures stay comparable with the published ones.
    """
    from pipeline.model.checkpoints import run_checkpoint_dir

    timer = timer or _Timer({})
    with run_checkpoint_dir(spark):
        return _prepare(spark, config, timer, online)


def _prepare(spark: Any, config: RunConfig, timer: _Timer, online: Any) -> Prepared:
    from pipeline import als, clean, features
    from pipeline.data import feedback
    from pipeline.similarity.vectors import similar_frame

    with timer.step("hash_inputs"):
        files = input_files(config.dataset, config.data_dir)
    with timer.step("load"):
        tables, report = clean.load_clean(spark, config.dataset, config.data_dir, max_reject_share=config.max_reject_share)
    merged = clean.merged_by_canonical(report)
    online_counts: dict[str, int] = {}
    train_tables = tables
    if online is not None:
        with timer.step("add_feedback"):
            train_tables, online_counts = feedback.merge(tables, online, merged)
    with timer.step("features"):
        # cached: user features feed both the users and the ratings documents
        movie_feats = features.movie_features(
            train_tables.ratings, train_tables.movies, train_tables.links, train_tables.tags, merged=merged or None
        ).cache()
        user_feats = features.user_features(train_tables.ratings, train_tables.movies, train_tables.users).cache()
    params, metrics, evaluation = config.params, {}, {}
    if config.tune or config.evaluate:
        params, metrics, evaluation = _evaluate(spark, tables, config, timer)
    with timer.step("train"):
        model = als.train(train_tables.ratings, params)
        if model.item_bias is not None and model.user_bias is not None:
            model.meta["biases"] = {"items": _bias_summary(model.item_bias), "users": _bias_summary(model.user_bias)}
    with timer.step("similarity"):
        spec = config.similarity
        similar, dims = similar_frame(model, movie_feats, spec)
        model.meta["similarity"] = {"spec": spec.to_dict(), "dims": dims}
    with timer.step("frames"):
        frames = {
            "movies": export.movie_frame(movie_feats, model.item_factors, similar),
            "users": export.user_frame(user_feats, model.user_factors),
            "ratings": export.rating_frame(train_tables.ratings, train_tables.movies, user_feats),
        }
        wanted = config.export_partitions or spark.sparkContext.defaultParallelism
        for kind, frame in frames.items():
            if frame.rdd.getNumPartitions() < wanted:
                frame = frame.repartition(wanted)
            frames[kind] = frame.cache()
        counts = {kind: frame.count() for kind, frame in frames.items()}
        samples = {
            "movies": _vector_sample(frames["movies"], "movie_id", config.sample_size),
            "users": _vector_sample(frames["users"], "user_id", config.sample_size),
        }
        untrained = _untrained(spark, frames["users"], online.snapshot) if online is not None else []
    movie_feats.unpersist()
    user_feats.unpersist()
    feedback.release(train_tables, tables)
    clean.unpersist(tables)  # the export frames are cached and materialised by the counts
    if online is not None:
        online.unpersist()
    log.info("to export: %s", counts)
    return Prepared(
        dataset=config.dataset,
        data_files=files,
        model=model,
        frames=frames,
        counts=counts,
        samples=samples,
        rejected=_rejected(report),
        metrics=metrics,
        evaluation=evaluation,
        timings=dict(timer.timings),
        online=online_counts,
        snapshot=dict(online.snapshot) if online is not None else {},
        untrained=untrained,
    )


def _untrained(spark: Any, users: Any, snapshot: Mapping[int, Any]) -> list[int]:
    """Users with feedback who have no row among the users to export (none of their movies is in the dataset)."""
    if not snapshot:
        return []
    ids = spark.createDataFrame([(int(u),) for u in snapshot], "user_id int")
    return sorted(int(r[0]) for r in ids.join(users.select("user_id"), "user_id", "left_anti").collect())


# --------------------------------------------------------------------------- Elasticsearch half


def _export_all(prepared: Prepared, names: Mapping[str, str], opts: Mapping[str, Any], config: RunConfig, run_id: str, timer: _Timer) -> None:
    for kind in indices.RUN_KINDS:
        with timer.step(f"export_{kind}"):
            stats = export.export_frame(
                prepared.frames[kind], opts, indices.writer_alias(names[kind]), kind, run_id=run_id, rank=prepared.model.rank,
                settings=config.bulk, require_alias=True,
            )
        if stats.failed or stats.ok != prepared.counts[kind]:
            raise ExportError(
                f"{stats.failed} of {prepared.counts[kind]} documents failed to index into {names[kind]} "
                f"({stats.ok} written); aliases left unchanged",
                stats.errors,
            )


def serving_fidelity(es: Elasticsearch, movies_index: str, model: TrainedModel) -> dict[str, Any]:
    """kNN vs exact recall@10 on the new movies index and the HNSW estimate (`pipeline.fidelity`).

    A measurement: when it fails, the error is recorded and the run goes on.
    """
    from pipeline import fidelity
    from pipeline.als import factor_matrix
    from service.queries import default_num_candidates

    try:
        items = factor_matrix(model.item_factors, "movie_id")[1]
        users = factor_matrix(model.user_factors, "user_id")[1]
        return fidelity.measure(es, movies_index, items, users, num_candidates=default_num_candidates(fidelity.K))
    except (ApiError, TransportError, ValueError, RuntimeError) as exc:
        log.warning("serving fidelity not measured: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _error_entry(step: str, exc: BaseException) -> dict:
    entry: dict[str, Any] = {"step": step, "type": type(exc).__name__, "message": str(exc)[:2000]}
    items = getattr(exc, "errors", None)
    if items:
        entry["items"] = [item if isinstance(item, (dict, str)) else str(item) for item in list(items)[:20]]
    return entry


def run_pipeline(
    config: RunConfig,
    *,
    spark: Any = None,
    environ: Mapping[str, str] | None = None,
    prepared: Prepared | None = None,
) -> RunResult:
    """One whole run; raises PipelineError (after recording the failure) when it fails.

    `spark`: a session to use (default: built from `config.master`).
    `prepared`: publish the result of an earlier `prepare` instead of training again.
    SIGTERM / SIGINT (main thread only) raise hygiene.Interrupted after the failure is recorded.
    """

    opts = client_options(config.es_url, environ)
    url = opts["hosts"][0]
    es = Elasticsearch(**opts)
    check_cluster(es, url)
    bootstrap(es, config.prefix)
    hygiene.abandon_stale(es, config.prefix, config.stale_after_s)

    started = dt.datetime.now(dt.timezone.utc)
    run_id = runs.new_run_id(started)
    timings: dict[str, float] = {}
    timer = _Timer(timings)
    names = indices.run_indices(config.prefix, run_id)
    runs.put_run(
        es,
        config.prefix,
        runs.run_record(run_id, dataset=config.dataset, started_at=started, params=config.params.to_dict()),
    )
    log.info("run %s started (%s → %s)", run_id, config.dataset, redact_url(url))
    beat = min(15.0, config.stale_after_s / 8)
    with hygiene.interruptible(), hygiene.Heartbeat(es, config.prefix, run_id, beat):
        prepared, previous, serving = _train_and_swap(es, opts, config, run_id, started, names, timer, spark, prepared)
        refolded, refold_errors = _refold(es, config.prefix, run_id, prepared, timer)
        finished = dt.datetime.now(dt.timezone.utc)
        done = runs.finish_fields(
            runs.SUCCEEDED,
            started,
            finished,
            timings=timings,
            counts={**prepared.counts, "rejected": prepared.rejected, **prepared.online, "refolded_users": len(refolded)},
            metrics=prepared.metrics,
            errors=refold_errors,
        )
        done["model"] = {**prepared.model.meta, **prepared.evaluation, "serving_fidelity": serving}
        try:
            runs.update_run(es, config.prefix, run_id, done)
            runs.sync_active(es, config.prefix)
        except (ApiError, TransportError) as exc:  # served already: the alias is the truth, the record lags
            log.error("run %s is served, but its record could not be updated: %s", run_id, exc)
        with timer.step("prune"):
            try:
                hygiene.abandon_stale(es, config.prefix, config.stale_after_s)  # runs that died while this one trained
                pruned = indices.prune(es, config.prefix, config.keep)
            except (ApiError, TransportError) as exc:  # the run is served already; pruning can wait for the next
                log.warning("pruning old indices failed: %s", exc)
                pruned = []
    log.info("run %s succeeded: aliases moved from %s; pruned %s", run_id, {k: v for k, v in previous.items() if v}, pruned)
    return RunResult(runs.get_run(es, config.prefix, run_id), prepared)


def _train_and_swap(
    es: Elasticsearch,
    opts: Mapping[str, Any],
    config: RunConfig,
    run_id: str,
    started: dt.datetime,
    names: Mapping[str, str],
    timer: _Timer,
    spark: Any,
    prepared: Prepared | None,
) -> tuple[Prepared, dict[str, list[str]], dict[str, Any]]:
    """Everything up to and including the alias swap: (prepared, what the aliases served before, serving fidelity).

    On any failure: Spark jobs stopped, the failure recorded, raised.
    """
    created = False
    session = spark
    try:
        if prepared is None:
            from pipeline.data import feedback as online_feedback
            from pipeline.spark import get_spark

            with timer.step("spark"):
                session = spark or get_spark("movierec-run", master=config.master, conf=dict(config.spark_conf))
            with timer.step("read_feedback"):
                online = online_feedback.read(session, es, opts, config.prefix, config.dataset)
            prepared = prepare(session, config, timer, online=online)
        else:
            timer.timings.update({f"{k} (prepared)": v for k, v in prepared.timings.items()})
        model = prepared.model
        runs.update_run(
            es,
            config.prefix,
            run_id,
            {**runs.model_fields(model.meta, model.params), "data_files": prepared.data_files, "data_hash": runs.data_hash(prepared.data_files), "indices": names},
        )
        with timer.step("create_indices"):
            created = True
            similar_dims = model.meta.get("similarity", {}).get("dims")
            indices.create_run_indices(es, config.prefix, run_id, model.vector_size, model.rank, similar_dims)
        _export_all(prepared, names, opts, config, run_id, timer)
        with timer.step("verify"):
            problems = indices.verify(es, names, prepared.counts, prepared.samples)
        if problems:
            raise ExportError(f"verification of run {run_id} failed: {'; '.join(problems[:5])}", problems)
        with timer.step("fidelity"):
            serving = serving_fidelity(es, names["movies"], prepared.model)
        with timer.step("swap"):
            previous = indices.swap_aliases(es, config.prefix, names)
    except (Exception, KeyboardInterrupt) as exc:
        _stop_spark_jobs(session)  # executors must stop writing before the indices go
        _record_failure(es, config, run_id, started, timer, exc, names if created else {}, prepared)
        if isinstance(exc, (PipelineError, KeyboardInterrupt)):
            raise
        raise PipelineError(f"run {run_id} failed in step {timer.current}: {type(exc).__name__}: {exc}") from exc
    return prepared, previous, serving


def _refold(es: Elasticsearch, prefix: str, run_id: str, prepared: Prepared, timer: _Timer) -> tuple[list[int], list[dict]]:
    """Fold in the users whose feedback the run did not train on; errors are recorded, the run stands (it is served)."""
    from pipeline.publish import refold

    with timer.step("refold"):
        try:
            return refold.refold(es, prefix, runs.get_run(es, prefix, run_id), prepared.snapshot, prepared.untrained), []
        except Exception as exc:  # noqa: BLE001 - served already: the service folds a missing user in on first use
            log.error("run %s is served, but re-folding users with new feedback failed: %s", run_id, exc)
            return [], [_error_entry("refold", exc)]


def _stop_spark_jobs(session: Any, wait_s: float = 30.0) -> None:
    """Cancel the session's jobs and wait for them to end (their Python workers are killed with their tasks)."""
    if session is None:
        return
    try:
        sc = session.sparkContext
        sc.cancelAllJobs()
        deadline = time.monotonic() + wait_s
        while sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:
            time.sleep(0.2)
    except Exception as exc:  # noqa: BLE001 - a JVM already gone has no jobs left
        log.info("could not cancel Spark jobs (%s); going on with the cleanup", exc)


def _record_failure(
    es: Elasticsearch,
    config: RunConfig,
    run_id: str,
    started: dt.datetime,
    timer: _Timer,
    exc: BaseException,
    to_delete: Mapping[str, str],
    prepared: Prepared | None,
) -> None:
    """Mark the run failed with its error; drop its unserved indices unless asked to keep them."""
    log.error("run %s failed in step %s: %s", run_id, timer.current, exc)
    try:
        if to_delete and not config.keep_failed:
            deleted = indices.delete_indices(es, to_delete.values())
            log.info("deleted the failed run's indices %s", deleted)
        counts = {**prepared.counts, "rejected": prepared.rejected} if prepared else None
        fields = runs.finish_fields(
            runs.FAILED, started, dt.datetime.now(dt.timezone.utc), timings=timer.timings, counts=counts, errors=[_error_entry(timer.current, exc)]
        )
        runs.update_run(es, config.prefix, run_id, fields)
    except (ApiError, TransportError) as record_exc:
        log.error("could not record the failure of run %s: %s", run_id, record_exc)
