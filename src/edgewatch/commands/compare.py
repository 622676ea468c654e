"""``edgewatch compare``: dense-ae, conv-ae and iforest, FP32 and INT8, LiteRT and ONNX Runtime, on the same data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgewatch.errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="labelled CSV/Parquet files")
    parser.add_argument("--label-col", help="0/1 label column (default: detected)")
    parser.add_argument("--time-col")
    parser.add_argument("--sep")
    parser.add_argument(
        "--train-rows",
        type=int,
        default=None,
        metavar="N",
        help="train on the first N rows of each file, score the rest (default: 40%% of the shortest file)",
    )
    parser.add_argument("--models", default="dense-ae,conv-ae,iforest", help="comma-separated model kinds")
    parser.add_argument("--calls", type=int, default=500, help="latency: score_batch calls (500)")
    parser.add_argument("--readings", type=int, default=200, help="readings scored by the RSS process (200)")
    parser.add_argument("--repeats", type=int, default=3, help="scoring processes per artifact (3)")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--keep-bundles", metavar="DIR", help="keep the trained bundles in DIR")
    parser.add_argument("--json", metavar="OUT", help="write the rows as JSON ('-' for stdout)")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bench.compare import compare_models, format_compare
    from edgewatch.data.read import read_recording
    from edgewatch.train.builder import MODEL_KINDS, TrainOptions
    from edgewatch.train.fit import FitSettings

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_KINDS]
    if unknown or not models:
        raise DataError(f"unknown model kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_KINDS)}")
    if args.calls < 1 or args.readings < 2 or args.repeats < 1:
        raise DataError("--calls, --readings and --repeats must be positive (--readings at least 2)")
    for path in args.data:
        if not Path(path).is_file():
            raise DataError("file not found", path=path)
    train_rows = args.train_rows
    if train_rows is None:
        shortest = min(
            read_recording(p, label_col=args.label_col, time_col=args.time_col, sep=args.sep).n_rows for p in args.data
        )
        train_rows = max(1, int(0.4 * shortest))
    options = TrainOptions(fit=FitSettings(max_epochs=args.max_epochs, progress=False))
    rows = compare_models(
        args.data,
        train_rows=train_rows,
        label_col=args.label_col,
        time_col=args.time_col,
        sep=args.sep,
        models=models,
        options=options,
        calls=args.calls,
        n_readings=args.readings,
        repeats=args.repeats,
        keep_bundles=args.keep_bundles,
        say=lambda m: print(m, file=sys.stderr),
    )
    print(format_compare(rows))
    if args.json:
        text = json.dumps({"train_rows": train_rows, "rows": [r.to_json() for r in rows]}, indent=2, allow_nan=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0
