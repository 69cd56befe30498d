"""Arrow batches with a `path` or `bytes` column (and maybe an `id` one) as
the engine's inputs: what the Ray and Spark adapters receive."""

from __future__ import annotations

from typing import List, Tuple, Union

import pyarrow as pa


def images_of(batch: Union[pa.Table, pa.RecordBatch]) -> List[Tuple[str, Union[str, bytes]]]:
    """(id, path or bytes) for each row: ids from `id`, else the path;
    rows given as `bytes` need an `id`."""
    names = batch.schema.names
    ids = batch.column(names.index("id")).to_pylist() if "id" in names else None
    if "path" in names:
        paths = batch.column(names.index("path")).to_pylist()
        return [(str(ids[i]) if ids else p, p) for i, p in enumerate(paths)]
    if "bytes" in names:
        if ids is None:
            raise ValueError("a batch of image bytes needs an `id` column")
        data = batch.column(names.index("bytes")).to_pylist()
        return [(str(i), d) for i, d in zip(ids, data)]
    raise ValueError(f"a batch of images needs a `path` or a `bytes` column; it has {names}")
