"""Ray Data: pixtape as callable classes for ``Dataset.map_batches``.

Each actor opens its model (and its catalog) once, in ``__init__``, and
reuses it for every batch::

    import ray, pixtape.ray
    ds = ray.data.from_items([{"path": p} for p in paths])
    images = ds.map_batches(pixtape.ray.Analyzer, fn_constructor_kwargs={"device": "cpu"},
                            batch_format="pyarrow", batch_size=256, concurrency=2)
    picks = ds.map_batches(pixtape.ray.Recommender,
                           fn_constructor_kwargs={"catalog": "/shared/tracks.pxcat"},
                           batch_format="pyarrow", batch_size=256, concurrency=2)

On GPU nodes give each actor a GPU (``num_gpus=1``) and ``device="gpu"``.
Batches carry a ``path`` column (a path every worker can read) or a
``bytes`` column with an ``id`` column. Inputs that fail are left out of
the result and logged; ``errors="raise"`` raises instead.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import pixtape
from ._batches import images_of

log = logging.getLogger("pixtape")


def _check(errors: pa.Table, policy: str) -> None:
    if errors.num_rows == 0:
        return
    failed = errors.filter(pc.equal(errors["severity"], "error"))
    for row in failed.to_pylist()[:10]:
        log.warning("pixtape: %s: %s", row["image_id"] or row["path"], row["reason"])
    if policy == "raise" and failed.num_rows:
        raise RuntimeError(f"pixtape: {failed.num_rows} inputs failed, the first: {failed.to_pylist()[0]['reason']}")


class Analyzer:
    """``images.parquet``'s rows for each batch; options as ``pixtape.Analyzer``."""

    def __init__(self, errors: str = "log", **options: Any) -> None:
        self.errors = errors
        self.engine = pixtape.Analyzer(**options)

    def __call__(self, batch: pa.Table) -> pa.Table:
        run = self.engine.run(images_of(batch))
        _check(run["errors"], self.errors)
        return run["images"]


class Recommender:
    """``recommendations.parquet``'s rows for each batch; ``catalog`` and the
    options as ``pixtape.Recommender``. The catalog is loaded once per
    actor from a path every worker sees: a catalog index
    (``pixtape catalog build``) loads fastest."""

    def __init__(self, catalog: Any, errors: str = "log", **options: Any) -> None:
        self.errors = errors
        self.engine = pixtape.Recommender(catalog, **options)

    def __call__(self, batch: pa.Table) -> pa.Table:
        run = self.engine.run(images_of(batch))
        _check(run["errors"], self.errors)
        return run["recommendations"]
