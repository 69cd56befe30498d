"""Types of the compiled engine (`python/src/lib.rs`); use the wrappers in
`pixtape` rather than these directly."""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import pyarrow as pa

__version__: str

_Inputs = Union[str, Sequence[Tuple[str, str]]]

def schemas() -> Dict[str, pa.Table]: ...

class Analyzer:
    def __init__(self, *, device: str = "auto", precision: str = "auto", batch_size: Optional[int] = None,
                 threads: Optional[int] = None,
                 profile: Optional[str] = None, faces: bool = True, face_threshold: float = 0.6,
                 face_gate: float = 0.02, features: bool = False) -> None: ...
    @property
    def device(self) -> str: ...
    def run(self, images: _Inputs) -> Dict[str, pa.Table]: ...

class Recommender:
    def __init__(self, catalog: str, *, columns: Optional[List[Tuple[str, List[str]]]] = None,
                 va_range: Optional[str] = None, top_k: int = 20, per_artist: int = 2, mood: str = "match",
                 weights: Optional[List[float]] = None, mmr_lambda: float = 0.7, device: str = "auto",
                 precision: str = "auto", batch_size: Optional[int] = None, threads: Optional[int] = None, profile: Optional[str] = None,
                 faces: bool = True, face_threshold: float = 0.6, face_gate: float = 0.02) -> None: ...
    @property
    def tracks(self) -> int: ...
    @property
    def device(self) -> str: ...
    def run(self, images: _Inputs) -> Dict[str, pa.Table]: ...
