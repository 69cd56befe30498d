"""Spark: pixtape for ``DataFrame.mapInArrow``.

    from functools import partial
    import pixtape.spark as ps
    df = spark.createDataFrame([(p,) for p in paths], "path string")
    images = df.mapInArrow(partial(ps.analyze_batches, device="cpu"), ps.images_schema())
    picks = df.mapInArrow(partial(ps.recommend_batches, catalog="/shared/tracks.pxcat"),
                          ps.recommendations_schema())

Each Python worker opens its model (and its catalog) once, on its first
batch, and keeps it for the batches after (Spark reuses its Python workers);
the catalog is read from a path every executor sees (a catalog index loads
fastest), so nothing large is broadcast. Spark has no unsigned integers:
the unsigned columns of pixtape's tables arrive as the next wider signed
type (uint16 as int, uint32 and uint64 as bigint), with the same values.
Inputs that fail are left out and logged, as in ``pixtape.ray``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Tuple

import pyarrow as pa

import pixtape
from ._batches import images_of
from .ray import _check

_ENGINES: Dict[Tuple[str, Any], Any] = {}


def _signed(t: pa.DataType) -> pa.DataType:
    """`t` with every unsigned integer made signed and wider."""
    if pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, _signed(t.value_type), t.value_field.nullable))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _signed(f.type), f.nullable) for f in t])
    return t


def _arrow_schema(name: str) -> pa.Schema:
    schema = pixtape._native.schemas()[name].schema
    return pa.schema([pa.field(f.name, _signed(f.type), f.nullable) for f in schema])


def _spark(name: str):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(_arrow_schema(name))


def images_schema():
    """The Spark schema of ``analyze_batches``' rows (images.parquet's columns)."""
    return _spark("images")


def recommendations_schema():
    """The Spark schema of ``recommend_batches``' rows."""
    return _spark("recommendations")


def _engine(kind: str, options: Dict[str, Any]):
    key = (kind, tuple(sorted((k, str(v)) for k, v in options.items())))
    if key not in _ENGINES:
        if kind == "analyze":
            _ENGINES[key] = pixtape.Analyzer(**options)
        else:
            catalog = options.pop("catalog")
            _ENGINES[key] = pixtape.Recommender(catalog, **options)
    return _ENGINES[key]


def _batches(kind: str, table: str, batches: Iterator[pa.RecordBatch], options: Dict[str, Any]
             ) -> Iterator[pa.RecordBatch]:
    engine = _engine(kind, dict(options))
    errors = options.get("errors", "log")
    schema = _arrow_schema(table)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        run = engine.run(images_of(batch))
        _check(run["errors"], errors)
        yield from run[table].cast(schema).to_batches()


def analyze_batches(batches: Iterator[pa.RecordBatch], **options: Any) -> Iterator[pa.RecordBatch]:
    """For ``mapInArrow``: batches with a ``path`` (or ``bytes`` and ``id``)
    column in, images.parquet's rows out; options as ``pixtape.Analyzer``."""
    options.pop("errors", None)
    return _batches("analyze", "images", batches, options)


def recommend_batches(batches: Iterator[pa.RecordBatch], *, catalog: Any, **options: Any
                      ) -> Iterator[pa.RecordBatch]:
    """For ``mapInArrow``: recommendations.parquet's rows for the pictures
    of each batch; ``catalog`` and options as ``pixtape.Recommender``."""
    options.pop("errors", None)
    return _batches("recommend", "recommendations", batches, {**options, "catalog": catalog})
