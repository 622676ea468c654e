"""``edgewatch info``: a bundle's manifest, for a person; on a device, the active and previous bundles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", nargs="?", help="bundle directory")
    parser.add_argument("--json", action="store_true", help="print the raw manifest as JSON")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", "-c", help="the agent's configuration: show its active and previous bundles")
    where.add_argument("--store", help="the agent's bundle store directory (update.store_dir)")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.describe import describe
    from edgewatch.errors import ConfigError

    if args.bundle is None:
        if args.config is None and args.store is None:
            raise ConfigError("give a bundle directory, or --config/--store for a device's bundles", field="bundle")
        return _device(args)
    bundle = load_bundle(args.bundle)
    if args.json:
        print(json.dumps(bundle.manifest.to_json(), indent=2, sort_keys=True))
    else:
        print("\n".join(describe(bundle.manifest, bundle.path)))
    return 0


def _device(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.describe import describe
    from edgewatch.bundle.signing import SIGNATURE_FILE
    from edgewatch.bundle.slots import BundleSlots
    from edgewatch.errors import BundleError

    if args.store is not None:
        store = args.store
    else:
        from edgewatch.agent.config import load_config

        store = load_config(args.config, check_paths=False).update.store_dir
    slots = BundleSlots(store)
    summary: dict[str, object] = {"store": str(slots.root)}
    for slot, path in (("active", slots.active), ("previous", slots.previous)):
        if path is None:
            summary[slot] = None
            print(f"{slot:<9} none")
            continue
        signer = None
        if (path / SIGNATURE_FILE).is_file():
            signer = json.loads((path / SIGNATURE_FILE).read_text(encoding="utf-8")).get("key_id")
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            summary[slot] = {"dir": str(path), "error": str(exc)}
            print(f"{slot:<9} {path}: {exc}")
            continue
        m = bundle.manifest
        summary[slot] = {"dir": str(path), "model_id": m.model_id, "created_at": m.created_at, "signer": signer}
        if not args.json:
            print(f"{slot:<9} {m.model_id}  created {m.created_at}  signed by {signer or 'nobody'}  ({path})")
            if slot == "active":
                print("\n".join("  " + line for line in describe(m, Path(path))))
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0
