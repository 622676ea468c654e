"""LiteRT backend (``ai_edge_litert``, falling back to ``tflite_runtime``) for TFLite autoencoders.

The model bytes are read from disk once; interpreters for a few fixed batch sizes are built from those
bytes at load time and warmed up, so the hot path never resizes tensors or touches the SD card.
A batch of any size is scored in chunks of the largest prepared size, the tail padded.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.errors import RuntimeBackendError

BATCH_SIZES = (1, 16, 128)


def _interpreter_class() -> Any:
    """The Interpreter class, bound to the builtin kernels without the default XNNPACK delegate: for models
    this small the delegate saves nothing per call but costs RSS per interpreter (benchmarks/README.md)."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return functools.partial(
            Interpreter, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    except ModuleNotFoundError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return functools.partial(
            Interpreter, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    except ModuleNotFoundError:
        raise RuntimeBackendError(
            "no LiteRT runtime installed; install it with: pip install 'edgewatch[litert]' "
            "(ai-edge-litert), or choose --runtime onnx"
        ) from None


class _Slot:
    """One interpreter prepared for a fixed batch size, with its I/O quantization parameters."""

    def __init__(self, interpreter_class: Any, model: bytes, batch: int, shape: tuple[int, ...], threads: int):
        self.batch = batch
        self.interpreter = interpreter_class(model_content=model, num_threads=threads)
        inp = self.interpreter.get_input_details()[0]
        self.interpreter.resize_tensor_input(inp["index"], [batch, *shape], strict=False)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        self.input_index = inp["index"]
        self.output_index = out["index"]
        self.input_dtype = inp["dtype"]
        self.output_dtype = out["dtype"]
        self.in_scale, self.in_zero = (float(v) for v in inp["quantization"])
        self.out_scale, self.out_zero = (float(v) for v in out["quantization"])
        self.quantized_input = self.input_dtype in (np.int8, np.uint8)
        self.quantized_output = self.output_dtype in (np.int8, np.uint8)
        info = np.iinfo(self.input_dtype) if self.quantized_input else None
        self.in_lo, self.in_hi = (info.min, info.max) if info else (0, 0)

    def run(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray
        if self.quantized_input:
            q = np.round(x / self.in_scale + self.in_zero)
            np.clip(q, self.in_lo, self.in_hi, out=q)
            self.interpreter.set_tensor(self.input_index, q.astype(self.input_dtype))
        else:
            self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output_index)
        if self.quantized_output:
            out = (out.astype(np.float32) - self.out_zero) * self.out_scale
            return out
        return out.astype(np.float32, copy=True)


class LiteRTModel:
    """A TFLite autoencoder (FP32 or full-integer INT8) on LiteRT; ``run`` gives reconstructions."""

    def __init__(self, model_path: Path, *, window: int, n_features: int, threads: int = 1) -> None:
        try:
            model = Path(model_path).read_bytes()
        except OSError as exc:
            raise RuntimeBackendError(f"{model_path}: cannot read model ({exc})") from None
        self._shape = (window, n_features) if window > 1 else (n_features,)
        interpreter_class = _interpreter_class()
        try:
            self._slots = [_Slot(interpreter_class, model, b, self._shape, threads) for b in BATCH_SIZES]
        except (ValueError, RuntimeError) as exc:
            raise RuntimeBackendError(f"{model_path}: LiteRT cannot load the model ({exc})") from None
        self.run(np.zeros((1, window, n_features), dtype=np.float32))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        """Reconstructions of scaled float32 inputs ``x`` (n, window, F), float32 of the same shape."""
        n = x.shape[0]
        flat = x.reshape((n, *self._shape))
        out = np.empty_like(flat, dtype=np.float32)
        start = 0
        largest = self._slots[-1]
        while start < n:
            remaining = n - start
            slot = next((s for s in self._slots if s.batch >= remaining), largest)
            take = min(slot.batch, remaining)
            chunk = flat[start : start + take]
            if take < slot.batch:
                padded = np.zeros((slot.batch, *self._shape), dtype=np.float32)
                padded[:take] = chunk
                chunk = padded
            out[start : start + take] = slot.run(chunk)[:take]
            start += take
        return out.reshape(x.shape)
