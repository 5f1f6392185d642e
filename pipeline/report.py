"""Write an evaluation report: JSON (everything), Markdown (tables) and PNG plots.

The plots use matplotlib (a base dependency) with the Agg backend, so they
render on machines without a display.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CURVE_METRICS = ("precision", "recall", "ndcg", "map")
HEADLINE_K = 10
RATING_COLUMNS = ("rmse", "mae")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


# MAP under two denominators, labelled: recommenders' README "MAP" column divides by |relevant|.
MAP_NOTE = (
    "map_at_K divides each user's sum of precisions at hits by min(|relevant|, K) (recommenders' map_at_k); "
    "map_rel_at_K divides by |relevant|, the MAP column of the recommenders README."
)


def headline_columns(report: Mapping[str, Any]) -> list[str]:
    """The metric columns of the model table: @10 cut-offs (MAP both ways) + MRR + coverage, or RMSE/MAE."""
    if report.get("task") == "rating":
        return list(RATING_COLUMNS)
    k = HEADLINE_K if HEADLINE_K in report.get("ks", [HEADLINE_K]) else max(report.get("ks", [HEADLINE_K]))
    return [f"{m}_at_{k}" for m in CURVE_METRICS] + [f"map_rel_at_{k}", "mrr", f"coverage_at_{k}"]


def _cell(name: str, column: str, report: Mapping[str, Any]) -> Any:
    """A model table cell: the value, or "mean ± sd" over the protocol's splits."""
    value = report["models"][name].get(column)
    sd = (report.get("sd") or {}).get(name, {}).get(column)
    if sd is None or value is None:
        return value
    return f"{_fmt(value)} ± {_fmt(sd)}"


def to_markdown(report: Mapping[str, Any]) -> str:
    """A human-readable summary of `report` (the JSON holds every number)."""
    lines = [f"# Evaluation: {report.get('dataset', '?')} / {report['protocol']}", ""]
    split = report.get("split")
    if split:
        lines += [
            (
                f"Split `{split['name']}`: {split['train_ratings']} training ratings, {split['test_ratings']} test "
                f"ratings, {split['users_evaluated']} users evaluated, catalog of {split['catalog']} movies "
                f"({split['test_users_without_training']} test users without training ratings left out)."
            ),
            "",
        ]
    columns = headline_columns(report)
    lines += ["## Models", ""]
    if report.get("splits"):
        lines += [f"Mean ± sd over {len(report['splits'])} splits: " + ", ".join(f"`{s['split']['name']}`" for s in report["splits"]), ""]
    lines += _table(["model", *columns], [[name, *(_cell(name, c, report) for c in columns)] for name in report["models"]])
    if report.get("task") != "rating":
        lines += ["", MAP_NOTE]
    fidelity = (report.get("serving_fidelity") or {}).get("hnsw_estimate")
    if fidelity:
        lines += [
            "",
            f"## Serving fidelity (estimate: HNSW m={fidelity['m']}, ef_construction={fidelity['ef_construction']}, "
            f"{fidelity['queries']} users)",
            "",
        ]
        curve = fidelity["recall_at_k"]
        lines += _table(["num_candidates", *curve], [[f"recall@{fidelity['k']}", *curve.values()]])
    published = report.get("published") or {}
    if published:
        lines += ["", "## Published on this protocol", ""]
        pub_cols = sorted({c for m in published.values() for c in m})
        ours = report["models"].get("als", {})
        rows = [["**this run: als**", *(ours.get(c) for c in pub_cols)]]
        rows += [[n, *(m.get(c) for c in pub_cols)] for n, m in published.items()]
        lines += _table(["model", *pub_cols], rows)
    folds = report.get("folds")
    if folds:
        lines += ["", "## Folds", ""]
        lines += _table(
            ["fold", "rmse", "mae", "biases-only rmse", "seconds"],
            [[f["fold"], f["rmse"], f["mae"], f["baseline_rmse"], f.get("train_seconds")] for f in folds],
        )
    lines += ["", "## Parameters", "", "```json", json.dumps(report.get("params", {}), indent=2, sort_keys=True), "```"]
    for tuning in _tunings(report.get("tuning")):
        metric = tuning["objective"]
        varied = sorted({k for t in tuning["trials"] for k in t["params"]} - _constant_keys(tuning["trials"]))
        lines += [
            "",
            (
                f"## Tuning ({tuning['search']}, on `{tuning['validation']}`, objective {metric}, "
                f"{'max' if tuning['maximize'] else 'min'})"
            ),
            "",
            (
                f"Winner: {metric} = {_fmt(tuning['best_value'])} with "
                + ", ".join(f"{k}={tuning['best_params'][k]}" for k in varied)
            ),
            "",
        ]
        extra = [
            c for c in ("precision_at_10", "mae") if c != metric and any(c in t["metrics"] for t in tuning["trials"])
        ]
        rows = []
        for t in tuning["trials"]:
            values = [t["metrics"].get(metric), *(t["metrics"].get(c) for c in extra)]
            params = [str(t["params"].get(k)) for k in varied]  # a None parameter means "off", not "missing"
            rows.append([*params, *values, t["seconds"], t.get("error") or ""])
        lines += _table([*varied, metric, *extra, "seconds", "error"], rows)
    timings = report.get("timings") or {}
    if timings:
        lines += ["", "## Timings (seconds)", ""]
        lines += _table(list(timings), [list(timings.values())])
    plots = report.get("plots")
    if isinstance(plots, dict) and plots:
        lines += ["", "## Plots", ""] + [f"![{name}]({Path(path).name})" for name, path in plots.items()]
    return "\n".join(lines) + "\n"


def _tunings(tuning: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """One search, or one per fold (surprise-100k tunes inside each fold)."""
    if not tuning:
        return []
    return list(tuning["per_fold"]) if "per_fold" in tuning else [tuning]


def _constant_keys(trials: Sequence[Mapping[str, Any]]) -> set[str]:
    keys = {k for t in trials for k in t["params"]}
    return {k for k in keys if len({json.dumps(t["params"].get(k)) for t in trials}) <= 1} if len(trials) > 1 else set()


def plot(report: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """metric-vs-K per model and a model comparison bar chart (PNG, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, Path] = {}
    models: Mapping[str, Mapping[str, Any]] = report["models"]
    title = f"{report.get('dataset', '')} {report['protocol']}".strip()
    if report.get("task") == "ranking":
        ks = sorted(report.get("ks", []))
        fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
        for ax, metric in zip(axes.flat, CURVE_METRICS, strict=True):
            for name, m in models.items():
                ys = [m.get(f"{metric}_at_{k}") for k in ks]
                if all(y is not None for y in ys):
                    ax.plot(ks, ys, marker="o", label=name)
            ax.set_title(f"{metric}@K")
            ax.set_xlabel("K")
            ax.grid(alpha=0.3)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(title)
        fig.tight_layout()
        out["metrics_at_k"] = out_dir / "metrics_at_k.png"
        fig.savefig(out["metrics_at_k"], dpi=100)
        plt.close(fig)
    columns = [c for c in headline_columns(report) if any(c in m for m in models.values())]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(columns) * max(1, len(models)) / 2), 4))
    width = 0.8 / max(1, len(models))
    for i, (name, m) in enumerate(models.items()):
        xs = [j + i * width for j in range(len(columns))]
        ax.bar(xs, [m.get(c) or 0.0 for c in columns], width=width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(columns))])
    ax.set_xticklabels(columns, rotation=20)
    ax.set_title(f"model comparison — {title}")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out["model_comparison"] = out_dir / "model_comparison.png"
    fig.savefig(out["model_comparison"], dpi=100)
    plt.close(fig)
    tuning = report.get("tuning")
    if tuning and tuning.get("trials"):
        values = [t["metrics"].get(tuning["objective"]) for t in tuning["trials"] if t["metrics"]]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(range(1, len(values) + 1), values, marker=".", linestyle="none")
        ax.axhline(tuning["best_value"], color="gray", linestyle="--", label="winner")
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{tuning['objective']} (validation)")
        ax.set_title("tuning trials")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["tuning"] = out_dir / "tuning.png"
        fig.savefig(out["tuning"], dpi=100)
        plt.close(fig)
    return out


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and the PNG plots into `out_dir`; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = plot(report, out)
    report["plots"] = {name: str(path) for name, path in plots.items()}
    paths = {"json": out / "report.json", "markdown": out / "report.md", **plots}
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")
    paths["markdown"].write_text(to_markdown(report), encoding="utf-8")
    log.info("report written to %s (%s)", out, ", ".join(p.name for p in paths.values()))
    return paths


def _json_default(value: Any) -> Any:
    """numpy scalars and paths in the report become plain JSON."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
