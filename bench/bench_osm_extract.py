"""Peak memory and time of reading a large OpenStreetMap extract (issue 17), before and
after streaming the lenient reader.

Writes a synthetic town with osmium (``tests/osm_writer.write_town``: named streets,
8 houses a block, parks, shops; ``--blocks 580`` gives about 50 MB of PBF; an extract
already at ``--path`` is reused with ``--reuse``), then runs each step in a child process
of its own, so that each peak RSS is that step's alone:

- ``reader-after``: the lenient reader as it is (:func:`locmap.io.osm.iter_layer`, every
  layer): GDAL's features streamed in Arrow batches of 20,000, parsed a batch at a time;
- ``reader-before``: the obvious alternative, the reader as it was before — the same
  per-element lenient parsing, but each layer read whole with ``pyogrio.raw.read`` first
  (every WKB and attribute array of the layer in memory at once);
- ``build-after`` / ``build-before`` (``--build``): ``locmap basemap build``'s whole work
  (:func:`locmap.services.basemap.build`: reader, classification, COPY into PostGIS,
  generalisation) on a fresh database, with either reader;
- ``read_dataframe`` (``--dataframe``): ``pyogrio.read_dataframe`` of each layer (what
  the importer did before it was lenient).

    PYTHONPATH=. .venv/bin/python bench/bench_osm_extract.py --blocks 580 --build
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LAYERS = ("points", "lines", "multipolygons")


def _whole_layer(path: Path, layer: str, bbox: Any = None, keep: Any = None) -> Iterator[Any]:
    """The reader before streaming: the whole layer from ``pyogrio.raw.read``, then the
    same per-element lenient parsing (a batch of 20,000 at a time, as before)."""
    import pyogrio.raw

    from locmap.io import osm

    options = {} if osm.declared_sorted(Path(path)) else {"USE_CUSTOM_INDEXING": "NO"}
    _meta, _fids, wkbs, fields = pyogrio.raw.read(str(path), layer=layer, **options)
    by_name = {n: fields[i].tolist() for i, n in enumerate(_meta["fields"])}
    wkb_list = list(wkbs)
    default_type = {"points": "node", "lines": "way"}.get(layer, "relation")
    for start in range(0, len(wkb_list), osm._BATCH):
        part = {n: v[start:start + osm._BATCH] for n, v in by_name.items()}
        yield from osm._batch_elements(layer, default_type, part,
                                       wkb_list[start:start + osm._BATCH], keep)


def _child(step: str, path: str) -> None:
    started = time.perf_counter()
    out: dict[str, object] = {}
    if step.startswith("build"):
        from locmap.db import Database, upgrade
        from locmap.pgserver import drop_database
        from locmap.services import basemap
        from tests.conftest import _fresh_database

        if step == "build-before":
            import locmap.io.basemap

            locmap.io.basemap.iter_layer = _whole_layer  # type: ignore[assignment]
        url = _fresh_database("benchosm")
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        with db.session() as s:
            result = basemap.build(s, None, Path(path))
            s.commit()
        out = {"features": sum(result["counts"].values()), "broken": result["broken"]}
        seconds = time.perf_counter() - started
        db.dispose()
        drop_database(url)
    elif step.startswith("reader"):
        from locmap.io.osm import iter_layer

        read = iter_layer if step == "reader-after" else _whole_layer
        out = {"elements": sum(1 for layer in LAYERS for _ in read(Path(path), layer))}
        seconds = time.perf_counter() - started
    else:
        import pyogrio

        n = 0
        for layer in LAYERS:
            gdf = pyogrio.read_dataframe(path, layer=layer)
            n += len(gdf)
            del gdf
        out = {"elements": n}
        seconds = time.perf_counter() - started
    out["seconds"] = round(seconds, 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=580)
    ap.add_argument("--path", type=Path, default=Path("/tmp/locmap-bench-town.osm.pbf"))
    ap.add_argument("--reuse", action="store_true", help="use the extract already at --path")
    ap.add_argument("--build", action="store_true", help="also time locmap basemap build")
    ap.add_argument("--dataframe", action="store_true", help="also time read_dataframe")
    ap.add_argument("--steps", help="comma-separated steps to run instead (e.g. build-after)")
    ap.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    if not (args.reuse and args.path.exists()):
        from tests.osm_writer import write_town

        t = time.perf_counter()
        write_town(args.path, args.blocks)
        print(f"extract written in {time.perf_counter() - t:.0f} s", flush=True)
    mb = args.path.stat().st_size / 1e6
    print(f"extract: {args.path.name}, {mb:.1f} MB; load {os.getloadavg()[0]:.1f}", flush=True)
    steps = ["reader-after", "reader-before"]
    if args.build:
        steps += ["build-after", "build-before"]
    if args.dataframe:
        steps.append("read_dataframe")
    if args.steps:
        steps = args.steps.split(",")
    results: dict[str, dict[str, Any]] = {}
    for step in steps:
        r = subprocess.run([sys.executable, __file__, "--child", step, str(args.path)],
                           capture_output=True, text=True, check=False)
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        print(step, line or r.stderr.strip()[-500:], flush=True)
        if line.startswith("{"):
            results[step] = json.loads(line)
    for what in ("reader", "build"):
        a, b = results.get(f"{what}-after"), results.get(f"{what}-before")
        if a and b:
            print(f"{what}: peak RSS before/after {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x, "
                  f"time before/after {b['seconds'] / max(a['seconds'], 0.1):.2f}x")
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
