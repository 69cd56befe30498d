"""pixtape: pictures in, music recommendations out, as pyarrow tables.

The engine is pixtape's own (Rust, the same code as the ``pixtape``
command, which this package also installs): MobileNetV2, colour and light,
faces and their expressions, the learned mood head, exact top-k matching
against a music catalog and diverse, explained playlists. Tables come back
as ``pyarrow.Table`` through the Arrow C data interface, with the columns of
the command's Parquet files (see the README's "Outputs").

    import pixtape
    images = pixtape.analyze("photos/")                    # images.parquet's columns
    rec = pixtape.Recommender("tracks.parquet", top_k=20)
    picks = rec.recommend("photos/")                       # recommendations.parquet's

Objects open their model (and a recommender its catalog) once; reuse them
across calls. The GIL is released while the engine runs. Inputs that fail
(unreadable, corrupt, too large) are not exceptions: they are rows of the
errors table, which ``analyze(..., errors=True)`` and ``.run`` return.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import pyarrow as pa

from . import _native

__version__: str = _native.__version__
__all__ = ["Analyzer", "Catalog", "Recommender", "analyze", "__version__"]

PathLike = Union[str, "os.PathLike[str]"]
Images = Union[PathLike, Sequence[PathLike], Sequence[Tuple[str, PathLike]], Sequence[Tuple[str, bytes]]]


class _Spool:
    """Images given as bytes, written to a private temporary folder for the
    engine's decoders (which read files) and removed afterwards."""

    def __init__(self) -> None:
        self.dir: Optional[tempfile.TemporaryDirectory] = None

    def path_for(self, i: int, data: bytes) -> str:
        if self.dir is None:
            self.dir = tempfile.TemporaryDirectory(prefix="pixtape-")
        p = os.path.join(self.dir.name, f"{i:08d}")
        with open(p, "wb") as f:
            f.write(data)
        return p

    def close(self) -> None:
        if self.dir is not None:
            self.dir.cleanup()
            self.dir = None


def _inputs(images: Images, ids: Optional[Sequence[str]], spool: _Spool) -> Any:
    """What the engine takes: a path, or a list of (id, path) pairs."""
    if isinstance(images, (str, os.PathLike)):
        if ids is not None:
            raise ValueError("ids go with a list of images, not a folder or manifest")
        return os.fspath(images)
    items = list(images)
    if ids is not None and len(ids) != len(items):
        raise ValueError(f"{len(ids)} ids for {len(items)} images")
    pairs: List[Tuple[str, str]] = []
    for i, item in enumerate(items):
        given = ids[i] if ids is not None else None
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError("a tuple image is (id, path) or (id, bytes)")
            given, item = item
        if isinstance(item, (bytes, bytearray, memoryview)):
            if given is None:
                raise ValueError("images given as bytes need ids")
            pairs.append((str(given), spool.path_for(i, bytes(item))))
        elif isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            pairs.append((str(given) if given is not None else path, path))
        else:
            raise TypeError(f"an image is a path or bytes, not {type(item).__name__}")
    return pairs


class Analyzer:
    """Analyses pictures; the model is opened once and reused by every call.

    device: "auto" (a hardware GPU when there is one, else the CPU), "gpu"
    or "cpu". precision: the model's arithmetic, "auto" (on the CPU int8
    where it has AVX-512 VNNI or AVX2, else f32; f32 on a GPU), "f32", "int8" or
    "bf16" (CPU), or "f16" (a GPU with SHADER_F16), as the command's
    ``--precision``. batch_size: images per model batch. threads: decode workers
    and CPU model threads (all cores by default; the first object of a
    process sets the CPU pool). profile: a profile from ``pixtape learn``.
    faces: find faces and read their expressions; face_threshold: the
    detector score a face needs; face_gate: the scene model's people cue a
    picture needs to have its faces searched (0: every picture).
    features: also return the features table.
    """

    def __init__(self, *, device: str = "auto", precision: str = "auto", batch_size: Optional[int] = None,
                 threads: Optional[int] = None, profile: Optional[PathLike] = None,
                 faces: bool = True, face_threshold: float = 0.6, face_gate: float = 0.02,
                 features: bool = False) -> None:
        self._native = _native.Analyzer(
            device=device, precision=precision, batch_size=batch_size, threads=threads,
            profile=None if profile is None else os.fspath(profile),
            faces=faces, face_threshold=face_threshold, face_gate=face_gate, features=features)

    @property
    def device(self) -> str:
        """Where the model runs, in words."""
        return self._native.device

    def run(self, images: Images, ids: Optional[Sequence[str]] = None) -> Dict[str, pa.Table]:
        """Every table of a run: "images", "errors", and "faces" and
        "features" when asked for; columns as the command's files."""
        spool = _Spool()
        try:
            return self._native.run(_inputs(images, ids, spool))
        finally:
            spool.close()

    def analyze(self, images: Images, ids: Optional[Sequence[str]] = None) -> pa.Table:
        """The images table (failed inputs are in ``run``'s "errors")."""
        return self.run(images, ids)["images"]


def analyze(images: Images, *, ids: Optional[Sequence[str]] = None, device: str = "auto",
            precision: str = "auto", batch_size: Optional[int] = None, threads: Optional[int] = None,
            profile: Optional[PathLike] = None, faces: bool = True, errors: bool = False,
            ) -> Union[pa.Table, Tuple[pa.Table, pa.Table]]:
    """Analyses ``images`` (a folder, a manifest, an image, a list of paths,
    or a list of (id, bytes)) and returns the table ``pixtape analyze``
    writes to images.parquet; with ``errors=True``, (images, errors).
    Opens a model for this call: for many calls, keep an ``Analyzer``."""
    run = Analyzer(device=device, precision=precision, batch_size=batch_size, threads=threads, profile=profile,
                   faces=faces).run(images, ids)
    return (run["images"], run["errors"]) if errors else run["images"]


class Catalog:
    """A music catalog: a CSV, TSV, JSON or Parquet file (or a catalog
    index from ``pixtape catalog build``), or an Arrow table (pyarrow,
    or anything with ``__arrow_c_stream__``: pandas via pyarrow, Polars).

    columns: {role: column or [columns]} where detection gets it wrong
    (roles as ``--catalog-columns``); va_range: the valence/arousal scale
    ("unit", "signed", "1-9", "0-100", "z"), detected when not given.
    The catalog is read when a Recommender opens it.
    """

    def __init__(self, path_or_table: Any, columns: Optional[Dict[str, Union[str, Sequence[str]]]] = None,
                 va_range: Optional[str] = None) -> None:
        self.columns = [(role, [c] if isinstance(c, str) else list(c)) for role, c in (columns or {}).items()]
        self.va_range = va_range
        self._spool: Optional[tempfile.TemporaryDirectory] = None
        if isinstance(path_or_table, (str, os.PathLike)):
            self.path = os.fspath(path_or_table)
            return
        # An Arrow table: handed to the engine as a Parquet file in a private
        # temporary folder, which lives as long as this object.
        import pyarrow.parquet as pq
        table = path_or_table
        if not isinstance(table, pa.Table):
            if hasattr(table, "__arrow_c_stream__"):
                table = pa.table(table)
            elif hasattr(table, "to_arrow"):
                table = table.to_arrow()
            else:
                table = pa.Table.from_pandas(table)
        self._spool = tempfile.TemporaryDirectory(prefix="pixtape-catalog-")
        self.path = os.path.join(self._spool.name, "catalog.parquet")
        pq.write_table(table, self.path)


class Recommender:
    """Recommends tracks of ``catalog`` for pictures. The model, the
    catalog and the matcher are opened once, here, and reused by every call.

    top_k: tracks per playlist; per_artist: at most this many tracks by one
    artist (0: no limit); mood: "match", "uplift" or "calm"; weights:
    {"affect", "moods", "styles", "themes"} group weights of the similarity;
    the rest as ``Analyzer``.
    """

    def __init__(self, catalog: Union[Catalog, PathLike, Any], top_k: int = 20, per_artist: int = 2,
                 mood: str = "match", weights: Optional[Dict[str, float]] = None, device: str = "auto",
                 *, precision: str = "auto", mmr_lambda: float = 0.7, batch_size: Optional[int] = None, threads: Optional[int] = None,
                 profile: Optional[PathLike] = None, faces: bool = True, face_threshold: float = 0.6,
                 face_gate: float = 0.02) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
        w = None
        if weights is not None:
            unknown = set(weights) - {"affect", "moods", "styles", "themes"}
            if unknown:
                raise ValueError(f"unknown weight groups {sorted(unknown)}: affect, moods, styles, themes")
            d = {"affect": 0.35, "moods": 0.30, "styles": 0.20, "themes": 0.15, **weights}
            w = [d["affect"], d["moods"], d["styles"], d["themes"]]
        self._native = _native.Recommender(
            self.catalog.path, columns=self.catalog.columns or None, va_range=self.catalog.va_range,
            top_k=top_k, per_artist=per_artist, mood=mood, weights=w, mmr_lambda=mmr_lambda, device=device,
            precision=precision,
            batch_size=batch_size, threads=threads, profile=None if profile is None else os.fspath(profile),
            faces=faces, face_threshold=face_threshold, face_gate=face_gate)

    @property
    def tracks(self) -> int:
        """Tracks in the catalog."""
        return self._native.tracks

    @property
    def device(self) -> str:
        return self._native.device

    def run(self, images: Images, ids: Optional[Sequence[str]] = None) -> Dict[str, pa.Table]:
        """Every table: "images", "recommendations", "errors", "faces"."""
        spool = _Spool()
        try:
            return self._native.run(_inputs(images, ids, spool))
        finally:
            spool.close()

    def recommend(self, images: Images, ids: Optional[Sequence[str]] = None) -> pa.Table:
        """The table ``pixtape recommend`` writes to recommendations.parquet."""
        return self.run(images, ids)["recommendations"]

    def analyze_and_recommend(self, images: Images, ids: Optional[Sequence[str]] = None
                              ) -> Tuple[pa.Table, pa.Table]:
        """(images, recommendations), from one pass over the pictures."""
        run = self.run(images, ids)
        return run["images"], run["recommendations"]
