"""``edgewatch info``: a bundle's manifest, for a person."""

from __future__ import annotations

import argparse
import json

HELP = "show what a bundle holds: model, features, threshold, fidelity, files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("--json", action="store_true", help="print the raw manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.describe import describe

    bundle = load_bundle(args.bundle)
    if args.json:
        print(json.dumps(bundle.manifest.to_json(), indent=2, sort_keys=True))
    else:
        print("\n".join(describe(bundle.manifest, bundle.path)))
    return 0
