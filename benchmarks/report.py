"""Tables and plots from one results file of ``benchmarks/run.py``.

    python benchmarks/report.py benchmarks/results/20250101T000000Z.json [--img-dir docs/img]
    python benchmarks/report.py RESULTS.json --no-plots      # the markdown tables only

Prints markdown tables (measure | better | ours | Prefect 3.9.1 | ratio ours/Prefect) and
writes PNG plots (matplotlib, Agg backend) into ``--img-dir``: throughput and p99 latency
against concurrency for both servers, and our server's protocols side by side.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
IMG_DIR = REPO / "docs" / "img"
SERVERS = ("ours", "prefect")
PREFECT_LABEL = "Prefect 3.9.1"
QUERY_LABELS = {"flow_runs": "flow runs", "task_runs": "task runs", "logs": "logs"}

Results = dict[str, Any]


@dataclass(frozen=True)
class Row:
    measure: str
    better: str  # "higher", "lower" or "" (not a quantity)
    ours: Any
    theirs: Any


# -- formatting ------------------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def ratio(row: Row) -> str:
    ours, theirs = row.ours, row.theirs
    numbers = (int, float)
    if not row.better or not isinstance(ours, numbers) or not isinstance(theirs, numbers):
        return "-"
    if theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def table(rows: Sequence[Row], theirs_label: str = PREFECT_LABEL) -> str:
    lines = [
        f"| measure | better | ours | {theirs_label} | ratio (ours / theirs) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        better = {"higher": "↑ higher", "lower": "↓ lower"}.get(row.better, "")
        lines.append(
            f"| {row.measure} | {better} | {cell(row.ours)} | {cell(row.theirs)} | {ratio(row)} |"
        )
    return "\n".join(lines)


# -- rows per workload -----------------------------------------------------------------------


def by_server(results: Results, workload: str) -> dict[str, Any]:
    found = results.get("results", {}).get(workload, {})
    return found if isinstance(found, dict) else {}


def points(data: dict[str, Any], server: str) -> list[dict[str, Any]]:
    entry = data.get(server) or {}
    return list(entry.get("points", [])) if isinstance(entry, dict) else []


def point_at(
    data: dict[str, Any], server: str, clients: int, query: str | None = None
) -> dict[str, Any]:
    for point in points(data, server):
        if point.get("clients") == clients and point.get("query") == query:
            return point
    return {}


def client_counts(data: dict[str, Any]) -> list[int]:
    return sorted({p["clients"] for s in SERVERS for p in points(data, s)})


def startup_rows(results: Results) -> Iterator[Row]:
    data = by_server(results, "startup")
    ours, theirs = data.get("ours") or {}, data.get("prefect") or {}
    for measure in ours or theirs:
        yield Row(f"{measure}, s", "lower", ours.get(measure), theirs.get(measure))


def cpu_ms_per(point: dict[str, Any], count_key: str) -> float | None:
    """Server CPU milliseconds per unit of work (a lifecycle, a read) at one point."""
    cpu, count = point.get("server_cpu_seconds"), point.get(count_key)
    if cpu is None or not count:
        return None
    return round(cpu * 1000 / count, 2)


def writes_rows(results: Results) -> Iterator[Row]:
    data = by_server(results, "writes")
    for clients in client_counts(data):
        ours, theirs = point_at(data, "ours", clients), point_at(data, "prefect", clients)
        label = clients_label(clients)
        yield Row(
            f"lifecycles/s, {label}",
            "higher",
            ours.get("lifecycles_per_second"),
            theirs.get("lifecycles_per_second"),
        )
        yield Row(f"request p50 ms, {label}", "lower", ours.get("p50_ms"), theirs.get("p50_ms"))
        yield Row(f"request p99 ms, {label}", "lower", ours.get("p99_ms"), theirs.get("p99_ms"))
        yield Row(
            f"failed requests, {label}",
            "lower",
            ours.get("failed_requests"),
            theirs.get("failed_requests"),
        )
        yield Row(
            f"server CPU ms per lifecycle, {label}",
            "lower",
            cpu_ms_per(ours, "lifecycles"),
            cpu_ms_per(theirs, "lifecycles"),
        )


def reads_rows(results: Results) -> Iterator[Row]:
    data = by_server(results, "reads")
    queries = sorted({p["query"] for s in SERVERS for p in points(data, s)})
    for query in queries:
        for clients in client_counts(data):
            ours = point_at(data, "ours", clients, query)
            theirs = point_at(data, "prefect", clients, query)
            if not ours and not theirs:
                continue
            label = f"{QUERY_LABELS.get(query, query)}, {clients_label(clients)}"
            yield Row(
                f"reads/s, {label}",
                "higher",
                ours.get("reads_per_second"),
                theirs.get("reads_per_second"),
            )
            yield Row(f"p99 ms, {label}", "lower", ours.get("p99_ms"), theirs.get("p99_ms"))
            yield Row(f"failed reads, {label}", "lower", ours.get("failed"), theirs.get("failed"))
            yield Row(
                f"server CPU ms per read, {label}",
                "lower",
                cpu_ms_per(ours, "reads"),
                cpu_ms_per(theirs, "reads"),
            )


def events_rows(results: Results) -> Iterator[Row]:
    data = by_server(results, "events")
    for clients in client_counts(data):
        ours, theirs = point_at(data, "ours", clients), point_at(data, "prefect", clients)
        label = clients_label(clients, "websocket")
        yield Row(
            f"events/s, {label}",
            "higher",
            ours.get("events_per_second"),
            theirs.get("events_per_second"),
        )
        yield Row(f"events sent, {label}", "", ours.get("events_sent"), theirs.get("events_sent"))
        yield Row(f"stored = sent?, {label}", "", ours.get("verified"), theirs.get("verified"))
        yield Row(
            f"seconds until all stored, {label}",
            "lower",
            ours.get("stored_after_seconds") if ours.get("verified") == "ok" else None,
            theirs.get("stored_after_seconds") if theirs.get("verified") == "ok" else None,
        )


def memory_rows(results: Results) -> Iterator[Row]:
    data = by_server(results, "memory")
    ours, theirs = data.get("ours") or {}, data.get("prefect") or {}
    for key, label in (
        ("idle_rss_mib", "idle RSS, MiB (process tree)"),
        ("after_load_rss_mib", "RSS after the load, MiB"),
        ("peak_rss_mib", "peak RSS (VmHWM summed), MiB"),
    ):
        yield Row(label, "lower", ours.get(key), theirs.get(key))


PROTOCOL_MEASURES = (
    ("writes", "lifecycles_per_second", "write lifecycles/s", "↑ higher"),
    ("writes", "p99_ms", "write request p99 ms", "↓ lower"),
    ("writes", "failed_requests", "failed write requests", "↓ lower"),
    ("reads", "reads_per_second", "flow-run reads/s", "↑ higher"),
    ("reads", "p99_ms", "read p99 ms", "↓ lower"),
    ("reads", "failed", "failed reads", "↓ lower"),
)


def protocol_value(family: dict[str, Any], kind: str, key: str, clients: int) -> Any:
    found = [p.get(key) for p in family.get(kind, []) if p.get("clients") == clients]
    return found[0] if found else None


def protocol_table(results: Results) -> str:
    data = by_server(results, "protocols").get("ours") or {}
    protocols = [name for name in ("http1", "h2-tls", "h2c") if name in data]
    if not protocols:
        return ""
    lines = [
        "| measure (ours only) | better | " + " | ".join(protocols) + " |",
        "|---|---|" + "---:|" * len(protocols),
    ]
    seen = [
        "/".join(sorted({v for p in data[name].get("writes", []) for v in p["http_versions"]}))
        for name in protocols
    ]
    lines.append("| HTTP version answered | | " + " | ".join(seen) + " |")
    clients = sorted({p["clients"] for name in protocols for p in data[name].get("writes", [])})
    for count in clients:
        for kind, key, label, better in PROTOCOL_MEASURES:
            values = [protocol_value(data[name], kind, key, count) for name in protocols]
            measure = f"{label}, {clients_label(count)}"
            lines.append(f"| {measure} | {better} | " + " | ".join(map(cell, values)) + " |")
    return "\n".join(lines)


SECTIONS = (
    ("Start-up", startup_rows),
    ("Write lifecycles (create SCHEDULED, then PENDING, RUNNING, COMPLETED)", writes_rows),
    ("Reads (POST .../filter, limit 50)", reads_rows),
    ("Event ingest (websocket /api/events/in)", events_rows),
    ("Memory", memory_rows),
)


def machine_line(results: Results) -> str:
    m = results.get("machine", {})
    return (
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), {m.get('ram_gib')} GiB RAM, "
        f"Python {m.get('python')}, {m.get('os')} (kernel {m.get('kernel')})."
    )


def failure_lines(results: Results) -> Iterator[str]:
    """One line per failure label seen anywhere, with its count and first example."""
    for workload, data in results.get("results", {}).items():
        for server, entry in (data or {}).items():
            for point in _all_points(entry):
                for label, count in (point.get("failures") or {}).items():
                    example = (point.get("failure_examples") or {}).get(label, "")
                    where = f"{workload}/{server}, {point_label(point)}"
                    yield f"- {where}: {count} x `{label}` — {example[:120]!r}"


def point_label(point: dict[str, Any]) -> str:
    if "clients" not in point:
        return "seeding"
    query = point.get("query")
    protocol = point.get("protocol")
    extra = "".join(f", {part}" for part in (query, protocol) if part and part != "http1")
    return f"{clients_label(point['clients'])}{extra}"


def clients_label(count: int, noun: str = "client") -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _all_points(entry: Any, marker: str = "failures") -> Iterator[dict[str, Any]]:
    """Every dict inside ``entry`` (nested dicts and lists) that has a ``marker`` key."""
    if isinstance(entry, dict):
        if marker in entry:
            yield entry
        for value in entry.values():
            yield from _all_points(value, marker)
    elif isinstance(entry, list):
        for value in entry:
            yield from _all_points(value, marker)


def error_lines(results: Results) -> Iterator[str]:
    """Whole workloads, and single measurement points, that could not run."""
    for error in results.get("errors") or []:
        yield f"- {error['workload']}/{error['server']}: {error['error']}"
    for workload, data in results.get("results", {}).items():
        for server, entry in (data or {}).items():
            for point in _all_points(entry, "error"):
                where = f"{clients_label(point['clients'])}" if "clients" in point else "all"
                yield f"- {workload}/{server}, {where}: {point['error']}"


def markdown(results: Results) -> str:
    parts = [f"# Benchmarks, {results.get('started', '')}", "", machine_line(results)]
    config = results.get("config", {})
    parts.append(
        f"Per measurement point: {config.get('seconds')} s; clients {config.get('clients')}; "
        f"ratio = ours / {PREFECT_LABEL}; ↑ means higher is better, ↓ lower is better."
    )
    for title, rows in SECTIONS:
        body = [row for row in rows(results) if (row.ours, row.theirs) != (None, None)]
        if body:
            parts += ["", f"## {title}", "", table(body)]
    protocols = protocol_table(results)
    if protocols:
        parts += ["", "## Protocols (ours only: uvicorn has no HTTP/2)", "", protocols]
    failures = list(failure_lines(results))
    if failures:
        parts += ["", "## Failed requests", "", *failures]
    errors = list(error_lines(results))
    if errors:
        parts += ["", "## Workloads that could not run", "", *errors]
    return "\n".join(parts) + "\n"


# -- plots -----------------------------------------------------------------------------------


def _series(data: dict[str, Any], server: str, key: str, query: str | None = None) -> Any:
    chosen = [p for p in points(data, server) if p.get("query") == query and p.get(key)]
    chosen.sort(key=lambda p: p["clients"])
    return [p["clients"] for p in chosen], [p[key] for p in chosen]


def _line_plot(axis: Any, data: dict[str, Any], key: str, queries: Sequence[str | None]) -> None:
    from matplotlib import ticker

    for index, query in enumerate(queries):
        for server, style in (("ours", "-o"), ("prefect", "--s")):
            xs, ys = _series(data, server, key, query)
            if xs:
                name = "ours" if server == "ours" else PREFECT_LABEL
                label = f"{name}, {QUERY_LABELS.get(query, query)}" if query else name
                axis.plot(xs, ys, style, color=f"C{index}", label=label)
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    counts = sorted({x for s in SERVERS for q in queries for x in _series(data, s, key, q)[0]})
    if counts:
        axis.set_xticks(counts, [str(count) for count in counts])
        axis.minorticks_off()
    axis.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_xlabel("concurrent clients")
    axis.grid(True, which="both", alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize="small")
    else:
        axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)


def _queries(data: dict[str, Any]) -> list[str | None]:
    return sorted({p["query"] for s in SERVERS for p in points(data, s)})


def plot_throughput(results: Results, pyplot: Any, img_dir: Path) -> Path:
    figure, axes = pyplot.subplots(1, 3, figsize=(16, 4.5))
    writes, reads = by_server(results, "writes"), by_server(results, "reads")
    events = by_server(results, "events")
    _line_plot(axes[0], writes, "lifecycles_per_second", [None])
    axes[0].set_title("write lifecycles/s")
    _line_plot(axes[1], reads, "reads_per_second", _queries(reads))
    axes[1].set_title("reads/s (limit 50)")
    _line_plot(axes[2], events, "events_per_second", [None])
    axes[2].set_title("events/s over websockets")
    return _save(figure, pyplot, img_dir / "bench-throughput.png")


def plot_latency(results: Results, pyplot: Any, img_dir: Path) -> Path:
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.5))
    reads = by_server(results, "reads")
    _line_plot(axes[0], by_server(results, "writes"), "p99_ms", [None])
    axes[0].set_title("write request p99, ms")
    _line_plot(axes[1], reads, "p99_ms", _queries(reads))
    axes[1].set_title("read p99, ms")
    return _save(figure, pyplot, img_dir / "bench-p99.png")


def plot_protocols(results: Results, pyplot: Any, img_dir: Path) -> Path | None:
    data = by_server(results, "protocols").get("ours") or {}
    protocols = [name for name in ("http1", "h2-tls", "h2c") if name in data]
    if not protocols:
        return None
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.5))
    for axis, (kind, key, title) in zip(
        axes,
        (
            ("writes", "lifecycles_per_second", "write lifecycles/s (ours)"),
            ("reads", "reads_per_second", "flow-run reads/s (ours)"),
        ),
        strict=True,
    ):
        clients = sorted({p["clients"] for name in protocols for p in data[name].get(kind, [])})
        width = 0.8 / len(protocols)
        for index, name in enumerate(protocols):
            values = [
                next((p.get(key) or 0 for p in data[name].get(kind, []) if p["clients"] == c), 0)
                for c in clients
            ]
            offsets = [c_index + index * width for c_index in range(len(clients))]
            axis.bar(offsets, values, width, label=name)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(clients))])
        axis.set_xticklabels([clients_label(c) for c in clients])
        axis.set_title(title)
        axis.grid(True, axis="y", alpha=0.3)
        axis.legend(fontsize="small")
    return _save(figure, pyplot, img_dir / "bench-protocols.png")


def _save(figure: Any, pyplot: Any, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def plot_all(results: Results, img_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    written = [
        plot_throughput(results, pyplot, img_dir),
        plot_latency(results, pyplot, img_dir),
        plot_protocols(results, pyplot, img_dir),
    ]
    return [path for path in written if path is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", type=Path, help="a JSON file written by benchmarks/run.py")
    parser.add_argument("--img-dir", type=Path, default=IMG_DIR)
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    print(markdown(results), end="")
    if not args.no_plots:
        print()
        for path in plot_all(results, args.img_dir):
            print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
