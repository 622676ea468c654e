"""``edgewatch train``: recording of normal operation → verified, quantized bundle."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edgewatch.bundle import ThresholdRule
from edgewatch.core.sustained import DEFAULT_FAST_TAU_S, DEFAULT_TAU_S
from edgewatch.errors import DataError

if TYPE_CHECKING:
    from edgewatch.train.builder import TrainOptions


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="CSV (separator auto-detected) or Parquet files")
    parser.add_argument("--out", required=True, help="bundle directory to write")
    parser.add_argument("--model", default="dense-ae", choices=["dense-ae", "conv-ae", "iforest"])
    parser.add_argument("--features", help='comma-separated feature columns, e.g. "a,b,Volume Flow RateRMS"')
    parser.add_argument("--time-col", help="name of the time column (default: detected)")
    parser.add_argument("--label-col", help="0/1 label column; rows labelled 1 are excluded from training")
    parser.add_argument("--sep", help="CSV separator (default: detected)")
    parser.add_argument("--head", type=int, metavar="N", help="train on the first N rows of each file only")
    parser.add_argument("--layers", type=_int_list, default=(64, 32, 64), help="dense-ae hidden sizes (64,32,64)")
    parser.add_argument("--window", type=int, default=16, help="conv-ae window length in readings (16)")
    parser.add_argument("--noise", type=float, default=0.4, help="denoising input noise, scaled units (0.4)")
    parser.add_argument("--hidden-noise", type=float, default=0.15, help="dense-ae activation noise in training (0.15)")
    parser.add_argument(
        "--score",
        choices=["max-z", "mean-z", "mse"],
        default="max-z",
        help="autoencoder score: the worst sensor's error in units of its normal error (max-z, default), "
        "the mean of those (mean-z) or the plain mean squared error (mse)",
    )
    parser.add_argument(
        "--sustained-tau",
        type=float,
        default=DEFAULT_TAU_S,
        metavar="SECONDS",
        help="autoencoders: time constant of the sustained-deviation channel, which averages each sensor's "
        "error to catch small shifts that last (900; 0 = off)",
    )
    parser.add_argument(
        "--sustained-fast-tau",
        type=float,
        default=DEFAULT_FAST_TAU_S,
        metavar="SECONDS",
        help="time constant of the channel's fast average, which lets a shift's alert clear within minutes of "
        f"its end ({DEFAULT_FAST_TAU_S:.0f}; must be below --sustained-tau)",
    )
    parser.add_argument(
        "--no-run-state",
        action="store_true",
        help="do not look for a sensor that shows the machine stopped (by default, when one is found, the device "
        "raises no new alert while the machine is stopped nor for a settle time after a restart)",
    )
    parser.add_argument("--trees", type=int, default=100, help="iforest trees (100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument(
        "--calibration-rows", type=int, default=200, help="INT8 representative rows spread evenly over time (200)"
    )
    parser.add_argument(
        "--no-calibration-range",
        action="store_true",
        help="calibrate INT8 on the evenly spread rows only (by default the rows at each sensor's range ends are "
        "added, so a rare but normal reading is not clipped by the INT8 input range)",
    )
    parser.add_argument(
        "--calibration-fault-level",
        type=float,
        metavar="SD",
        help="add fault-sized INT8 calibration rows: each sensor in turn at -SD and +SD scaled units, so that the "
        "INT8 ranges cover the deviations the fidelity gate checks (6 = its largest); makes INT8 pass the gate on a "
        "few hundred rows but it alerts a little more than FP32 there (docs/quantization.md). Default 0: none",
    )
    parser.add_argument(
        "--precision",
        choices=["int8", "fp32"],
        default="int8",
        help="model the device runs by default (int8: unless it fails the fidelity gate, then fp32)",
    )
    parser.add_argument("--threshold-quantile", type=float, default=0.995)
    parser.add_argument(
        "--threshold-margin", type=float, default=ThresholdRule().margin, help="threshold = margin x quantile (2.0)"
    )
    parser.add_argument("--min-rank-correlation", type=float, default=0.99)
    parser.add_argument("--min-alert-agreement", type=float, default=0.995)
    parser.add_argument(
        "--max-threshold-ratio",
        type=float,
        default=1.2,
        help="INT8 threshold at most this many times the FP32 one, and at least its inverse (1.2)",
    )
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument(
        "--require-int8",
        action="store_true",
        help="an INT8 model that fails the fidelity gate is an error (exit status 3, no bundle); by default the "
        "bundle then runs its faithful FP32 model",
    )
    gate.add_argument(
        "--allow-low-fidelity",
        action="store_true",
        help="keep an INT8 model that fails the fidelity gate as the default anyway (recorded in the manifest, "
        "shown by info and logged as a warning by the agent); by default the bundle then runs its FP32 model",
    )
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    from edgewatch.bundle import FidelityBars, ThresholdRule
    from edgewatch.train.builder import TrainOptions
    from edgewatch.train.fit import FitSettings

    if args.head is not None and args.head < 1:
        raise DataError("--head must be a positive number of rows")
    fault_level = (
        TrainOptions.calibration_fault_level if args.calibration_fault_level is None else args.calibration_fault_level
    )
    if not (fault_level >= 0 and math.isfinite(fault_level)):
        raise DataError(f"--calibration-fault-level must be a number >= 0, got {fault_level}")
    if args.calibration_rows < 1:
        raise DataError("--calibration-rows must be at least 1")
    if not (args.max_threshold_ratio >= 1 and math.isfinite(args.max_threshold_ratio)):
        raise DataError(f"--max-threshold-ratio must be a number >= 1, got {args.max_threshold_ratio}")
    if not 0.05 <= args.validation_fraction <= 0.5:
        raise DataError("--validation-fraction must be between 0.05 and 0.5")
    if not (args.sustained_tau >= 0 and math.isfinite(args.sustained_tau)):
        raise DataError(f"--sustained-tau must be a number of seconds >= 0, got {args.sustained_tau}")
    if not (0 < args.sustained_fast_tau and math.isfinite(args.sustained_fast_tau)) or (
        args.sustained_tau > 0 and args.sustained_fast_tau >= args.sustained_tau
    ):
        raise DataError(
            f"--sustained-fast-tau must be a positive number of seconds below --sustained-tau, "
            f"got {args.sustained_fast_tau}"
        )
    if args.model == "conv-ae" and (args.window < 4 or args.window % 4):
        raise DataError(f"--window must be a multiple of 4 and at least 4, got {args.window}")
    try:
        rule = ThresholdRule(quantile=args.threshold_quantile, margin=args.threshold_margin)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return TrainOptions(
        model=args.model,
        layers=tuple(args.layers),
        window=args.window,
        noise=args.noise,
        hidden_noise=args.hidden_noise,
        score=args.score,
        sustained_tau_s=args.sustained_tau,
        sustained_fast_tau_s=args.sustained_fast_tau,
        n_estimators=args.trees,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        calibration_rows=args.calibration_rows,
        calibration_range=not args.no_calibration_range,
        calibration_fault_level=fault_level,
        precision=args.precision,
        threshold=rule,
        bars=FidelityBars(args.min_rank_correlation, args.min_alert_agreement, args.max_threshold_ratio),
        allow_low_fidelity=args.allow_low_fidelity,
        require_int8=args.require_int8,
        fit=FitSettings(max_epochs=args.max_epochs, progress=not args.no_progress),
        run_state=not args.no_run_state,
    )


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle.describe import fidelity_lines, run_state_line, threshold_lines
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import build_bundle

    options = options_from_args(args)
    features = [f.strip() for f in args.features.split(",")] if args.features else None
    recording = read_recordings(
        args.data, features=features, time_col=args.time_col, label_col=args.label_col, sep=args.sep, head=args.head
    )
    report = build_bundle(recording, options, args.out, say=lambda m: print(m, file=sys.stderr))
    manifest = report.bundle.manifest
    print(f"bundle: {Path(args.out)}  model: {manifest.model_id}  features: {manifest.n_features}")
    for name, size in sorted(report.sizes.items()):
        print(f"  {name:20s} {size / 1024:8.1f} KB")
    print("\n".join(threshold_lines(manifest)))
    if options.run_state:
        print(f"run state: {run_state_line(manifest)}")
    for line in fidelity_lines(manifest):
        print(line)
    print(f"default model: {', '.join(f'{name} ({rt})' for rt, name in sorted(manifest.default_artifact.items()))}")
    if report.fidelity_failures:
        _warn_gate_failed(report.fidelity_failures, report.fell_back, kept=options.allow_low_fidelity)
    return 0


def _warn_gate_failed(failures: list[str], fell_back: dict[str, str], *, kept: bool) -> None:
    """Say on stderr that INT8 failed the fidelity gate, which bars with which values, and what the bundle
    runs instead."""
    print("INT8 failed the fidelity gate:", file=sys.stderr)
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    if fell_back:
        runtimes = ", ".join(f"{rt}-fp32 instead of {name}" for rt, name in sorted(fell_back.items()))
        print(
            f"the bundle runs its faithful FP32 models by default ({runtimes}); the INT8 models stay in the "
            "bundle (--artifact to evaluate them). Train on more rows of normal operation to get a faithful INT8 "
            "model, or pass --require-int8 to make this an error.",
            file=sys.stderr,
        )
    elif kept:
        print(
            "WARNING: kept as the default anyway (--allow-low-fidelity): the device runs an INT8 model that may "
            "not decide like the FP32 model it was measured as",
            file=sys.stderr,
        )
