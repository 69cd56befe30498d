"""Read a PyTorch checkpoint into numpy arrays without importing torch.

torchvision's MobileNetV2 checkpoint (mobilenet_v2-b0353104.pth, 2018) is in
PyTorch's *legacy* serialisation format, not the zip format of torch >= 1.6:

    pickle(magic) pickle(protocol) pickle(sys_info) pickle(state_dict)
    pickle(storage_keys) then, per storage key in that order:
        int64 element count, raw little-endian elements

Tensors inside the state-dict pickle are `torch._utils._rebuild_tensor_v2`
calls whose first argument is a persistent id naming a storage. We resolve
those ids to lazily filled numpy buffers, read the raw storages, then apply
offset/shape/stride. Only what this checkpoint uses is supported; anything
else raises instead of guessing.
"""

import collections
import pickle
import struct

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class _StorageType:
    def __init__(self, name):
        if name not in _DTYPES:
            raise ValueError(f"unsupported storage type {name}")
        self.dtype = _DTYPES[name]


class _Storage:
    def __init__(self, dtype, size):
        self.dtype = dtype
        self.size = size
        self.data = None


class _LazyTensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def materialise(self):
        base = self.storage.data
        item = base.itemsize
        return np.lib.stride_tricks.as_strided(
            base[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        ).copy()


def _rebuild_tensor(storage, offset, shape, stride, *unused):
    return _LazyTensor(storage, offset, tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, size = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind}")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, size)
        return self.storages[key]


def load_legacy_state_dict(path):
    """Return an OrderedDict name -> numpy array for a legacy .pth file."""
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch checkpoint")
        protocol = pickle.load(f)
        if protocol != 1001:
            raise ValueError(f"{path}: unexpected protocol {protocol}")
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", False):
            raise ValueError(f"{path}: big-endian checkpoints are not supported")
        storages = {}
        state = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            st = storages[key]
            (count,) = struct.unpack("<q", f.read(8))
            if count != st.size:
                raise ValueError(f"storage {key}: size {count} != {st.size}")
            nbytes = count * np.dtype(st.dtype).itemsize
            st.data = np.frombuffer(f.read(nbytes), dtype=st.dtype, count=count)
        if f.read(1):
            raise ValueError(f"{path}: trailing bytes after the last storage")
    return collections.OrderedDict(
        (k, v.materialise()) for k, v in state.items() if isinstance(v, _LazyTensor)
    )
