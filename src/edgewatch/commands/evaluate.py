"""``edgewatch evaluate``: how well does a bundle, with the device's pipeline, detect labelled faults?

Forms::

    edgewatch evaluate BUNDLE LABELLED... [options]          # one bundle, every file replayed in full
    edgewatch evaluate --bundle BUNDLE LABELLED... [options] # the same, bundle named explicitly
    edgewatch evaluate --per-file-train N [--model M] LABELLED...
                                                             # per file: train on rows 1..N, score the rest

Without ``--bundle`` and ``--per-file-train``, the first positional argument is the bundle directory.
See docs/evaluation.md for the metrics and protocols.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgewatch.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "edgewatch evaluate [BUNDLE] LABELLED... [--bundle BUNDLE | --per-file-train N [--model M]] "
        "[--label-col COL] [--json OUT] [--report OUT.html] [--runtime {litert,onnx}] [--artifact NAME] "
        "[--config AGENT.toml]"
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="[BUNDLE] LABELLED",
        help="bundle directory (unless --bundle or --per-file-train is given), then labelled CSV/Parquet files",
    )
    parser.add_argument("--bundle", help="bundle directory (alternative to the first positional argument)")
    parser.add_argument(
        "--per-file-train",
        type=int,
        metavar="N",
        help="no bundle: per file, train a model on its first N rows and score the rest (SKAB protocol)",
    )
    parser.add_argument("--model", choices=["dense-ae", "conv-ae", "iforest"], help="with --per-file-train (dense-ae)")
    parser.add_argument("--max-epochs", type=int, help="with --per-file-train: training epochs cap (200)")
    parser.add_argument("--train-seed", type=int, default=0, help="with --per-file-train: training seed (0)")
    parser.add_argument("--threshold-quantile", type=float, help="with --per-file-train (train's default)")
    parser.add_argument("--threshold-margin", type=float, help="with --per-file-train (train's default)")
    parser.add_argument(
        "--calibration-fault-level", type=float, metavar="SD", help="with --per-file-train (train's default)"
    )
    parser.add_argument("--label-col", help="0/1 label column (default: detected: anomaly, label, is_anomaly)")
    parser.add_argument("--time-col", help="time column (default: detected)")
    parser.add_argument("--sep", help="CSV separator (default: detected)")
    parser.add_argument(
        "--runtime",
        choices=["litert", "onnx"],
        help="edge runtime (default: the artifact's, else the bundle's; also with --per-file-train)",
    )
    parser.add_argument(
        "--artifact",
        help="a specific model of the bundle, e.g. litert-fp32 (default: the bundle's default artifact, the one "
        "a device runs; with --per-file-train, of every file's bundle)",
    )
    parser.add_argument("--config", help="agent config file (TOML/YAML): its thresholds/alerts/checks apply")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="a flag this long after a fault's last row still detects it (default 0)",
    )
    parser.add_argument(
        "--skip-rows",
        type=int,
        default=0,
        metavar="N",
        help="with a bundle: score each file from row N+1 on (e.g. after the head the bundle was trained on)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON ('-' for stdout)")
    parser.add_argument("--report", metavar="OUT.html", help="write the self-contained HTML report")
    parser.add_argument("--title", help="report title")


def resolve_inputs(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(bundle or None, labelled files) from the three argument forms; refuses ambiguous combinations."""
    inputs = list(args.inputs)
    if args.per_file_train is not None:
        if args.bundle:
            raise DataError("--per-file-train trains its own models: do not give --bundle")
        if args.per_file_train < 1:
            raise DataError("--per-file-train must be a positive number of rows")
        if inputs and Path(inputs[0]).is_dir():
            raise DataError(f"{inputs[0]} is a directory: --per-file-train takes labelled files only")
        if args.skip_rows:
            raise DataError("--skip-rows does not apply with --per-file-train (the training head is skipped)")
        return None, inputs
    if args.skip_rows < 0:
        raise DataError("--skip-rows must not be negative")
    for name in ("model", "max_epochs", "threshold_quantile", "threshold_margin", "calibration_fault_level"):
        if getattr(args, name) is not None:
            raise DataError(f"--{name.replace('_', '-')} only applies with --per-file-train")
    if args.bundle:
        return args.bundle, inputs
    if len(inputs) < 2:
        raise DataError("give a bundle directory and at least one labelled file (or --per-file-train N FILES)")
    bundle, files = inputs[0], inputs[1:]
    if not Path(bundle).is_dir():
        raise DataError(
            f"{bundle} is not a bundle directory (usage: edgewatch evaluate BUNDLE LABELLED..., "
            "or --per-file-train N LABELLED...)"
        )
    return bundle, files


def run(args: argparse.Namespace) -> int:
    from edgewatch.agent.config import load_pipeline_config
    from edgewatch.evaluate.output import format_table, render_run_report
    from edgewatch.evaluate.run import evaluate_bundle, evaluate_per_file_train

    bundle, files = resolve_inputs(args)
    if not files:
        raise DataError("no labelled files given")
    for path in files:
        if not Path(path).is_file():
            raise DataError("file not found", path=path)
    config = load_pipeline_config(args.config)
    common = dict(label_col=args.label_col, time_col=args.time_col, sep=args.sep, runtime=args.runtime)
    if bundle is None:
        from edgewatch.bundle import ThresholdRule
        from edgewatch.train.builder import TrainOptions
        from edgewatch.train.fit import FitSettings

        base = TrainOptions()
        try:
            rule = ThresholdRule(
                quantile=args.threshold_quantile if args.threshold_quantile is not None else base.threshold.quantile,
                margin=args.threshold_margin if args.threshold_margin is not None else base.threshold.margin,
            )
        except ValueError as exc:
            raise DataError(str(exc)) from None
        options = TrainOptions(
            model=args.model or base.model,
            seed=args.train_seed,
            threshold=rule,
            calibration_fault_level=(
                base.calibration_fault_level if args.calibration_fault_level is None else args.calibration_fault_level
            ),
            fit=FitSettings(max_epochs=args.max_epochs or base.fit.max_epochs, progress=False),
        )
        result = evaluate_per_file_train(
            files,
            args.per_file_train,
            options=options,
            artifact=args.artifact,
            config=config,
            tolerance_s=args.tolerance,
            say=lambda m: print(m, file=sys.stderr),
            **common,
        )
    else:
        result = evaluate_bundle(
            bundle,
            files,
            artifact=args.artifact,
            config=config,
            tolerance_s=args.tolerance,
            skip_rows=args.skip_rows,
            **common,
        )
    print(format_table(result))
    if args.json:
        text = json.dumps(result.to_json(), indent=2, allow_nan=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    if args.report:
        from edgewatch.evaluate.report import write_report

        write_report(args.report, render_run_report(result, args.title))
        print(f"report: {args.report}", file=sys.stderr)
    failed = [f.name for f in result.files if f.fidelity_passed is False]
    if failed:
        print(f"note: INT8 fidelity gate failed for {len(failed)} file(s): {', '.join(failed)}", file=sys.stderr)
    return 0
