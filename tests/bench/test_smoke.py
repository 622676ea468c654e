"""Smoke tests of ``edgewatch bench``: each benchmark runs at tiny sizes and returns the documented
structure. No timing assertions: performance is recorded by the benchmarks, not asserted here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest


def _check_targets(result: dict, names: set[str]) -> None:
    assert set(result["targets"]) >= names
    for entry in result["targets"].values():
        assert set(entry) >= {"value", "limit", "comparison", "unit", "met"}
        assert entry["met"] in (True, False, None)
    json.dumps(result, allow_nan=True)  # serialisable as recorded
    assert result["machine"]["cpu_count"] >= 1
    assert "python" in result["machine"]


@pytest.mark.slow
def test_training_benchmark_structure() -> None:
    pytest.importorskip("tensorflow")
    from edgewatch.bench import training

    result = training.run(rows=1500, features=8, max_epochs=2, repeats=1)
    assert result["benchmark"] == "training"
    pipeline = result["pipeline"]
    assert pipeline["wall_seconds"] > 0
    assert set(pipeline["stage_seconds_first_run"]) == {"train_and_convert", "verify_and_write", "total"}
    assert pipeline["sizes_bytes"]["model.int8.tflite"] > 0
    assert set(pipeline["fidelity"]) == {"litert-int8", "onnx-int8"}
    base = result["baseline"]
    assert base["fit_seconds"] > 0
    assert set(base["runs"][0]["export_seconds"]) == {"tflite_fp32", "tflite_int8", "onnx_fp32", "onnx_int8"}
    assert result["ratios"]["pipeline_over_bare_fit"] > 0
    _check_targets(result, {"pipeline_wall_seconds", "int8_tflite_kb"})


def test_quantization_benchmark_structure() -> None:
    pytest.importorskip("tensorflow")
    from edgewatch.bench import quantization

    result = quantization.run(days=0.1, rate=0.5, features=8, max_epochs=2, variants=["shipped-noise-0.4-hidden-0.15"])
    assert set(result["variants"]) == {"shipped-noise-0.4-hidden-0.15"}
    for entry in result["variants"].values():
        assert set(entry["runtimes"]) == {"litert", "onnx"}
        for figures in entry["runtimes"].values():
            for key in (
                "held_out_reconstruction_rank_correlation",
                "held_out_rank_correlation",
                "held_out_alert_agreement",
                "faulty_auc_fp32",
                "faulty_auc_int8",
            ):
                assert math.isfinite(figures[key])
            assert 0.0 <= figures["faulty_alert_agreement"] <= 1.0
    onnx_variants = result["variants"]["shipped-noise-0.4-hidden-0.15"]["onnx_quantization_variants"]
    assert "no_pre_process+per_channel" in onnx_variants
    assert result["parameters"]["test_fault_rows"] > 0


def test_quantization_rejects_unknown_variant() -> None:
    from edgewatch.bench import quantization

    with pytest.raises(ValueError, match="unknown variant"):
        quantization.run(variants=["no-such-variant"])


def test_runtime_benchmark_structure(tiny_bundle: Path) -> None:
    from edgewatch.bench import runtime

    result = runtime.run(bundle=str(tiny_bundle), calls=50, startups=1, throughput_seconds=0.05)
    assert set(result["backends"]) == {"litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32"}
    for entry in result["backends"].values():
        assert entry["file_bytes"] > 0
        assert entry["batch1"]["calls"] == 50
        assert entry["batch1"]["p99_us"] >= entry["batch1"]["median_us"] > 0
        assert set(entry["throughput_per_s"]) == {"batch1", "batch64", "batch128"}
        fresh = entry["fresh_process"]
        assert fresh["forbidden_loaded"] == []  # the edge process never imports the training stack
        assert fresh["peak_rss_mb_median"] > 0
    assert result["baseline"]["python_import_numpy"]["peak_rss_mb_median"] > 0
    _check_targets(result, {"litert_int8_process_peak_rss_mb", "litert_int8_launch_to_first_score_s"})


@pytest.mark.mqtt
def test_agent_benchmark_structure(tiny_bundle: Path) -> None:
    from tests.mqtt_broker import require_mosquitto

    require_mosquitto()
    from edgewatch.bench import agent

    result = agent.run(
        bundle=str(tiny_bundle),
        rate_hz=200.0,
        seconds=0.5,
        ladder=(500.0,),
        versus_seed_readings=400,
        versus_seed_rounds=1,
    )
    assert result["startup"]["launch_to_first_score_seconds"] > 0
    assert result["latency"]["published"] == 100
    assert result["latency"]["faults_injected"] == 2
    [step] = result["sustained"]
    assert step["published"] == 250
    assert step["lost"] == step["published"] - step["agent_scored_total_delta"]
    assert result["agent_peak_rss_mb"] > 0
    for run in result["versus_seed"]["runs"]:  # the seed loop and the agent each handled every reading
        [both] = run["rounds"]
        assert both["seed_loop"]["handled"] == both["agent"]["handled"] == 400, both
        assert run["lossless"] and run["ratios"]["cpu_per_reading"] > 0 and run["ratios"]["peak_rss"] > 0
        for who in ("seed_loop", "agent"):  # private memory is part of the peak, file pages the rest of it
            figures = both[who]
            assert 0 < figures["rss_anon_mb"] < figures["peak_rss_mb"] and figures["rss_file_mb"] > 0
        assert run["ratios"]["rss_anon"] > 0
    _check_targets(
        result,
        {
            "cpu_per_reading_over_seed_loop",
            "peak_rss_over_seed_loop",
            "agent_peak_rss_mb",
            "launch_to_first_score_s",
            "publish_to_alert_p99_ms",
            "sustained_lossless_readings_per_s",
        },
    )


def test_bench_command_writes_json(tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgewatch.cli import main

    out = tmp_path / "runtime.json"
    code = main(
        [
            "bench",
            "runtime",
            "--bundle",
            str(tiny_bundle),
            "--calls",
            "20",
            "--startups",
            "1",
            "--throughput-seconds",
            "0.05",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "runtime"
    assert data["command"].startswith("edgewatch bench runtime")
    assert "target litert_int8_process_peak_rss_mb" in capsys.readouterr().out


def test_read_benchmark_structure() -> None:
    pytest.importorskip("pyarrow")
    from edgewatch.bench import read

    result = read.run(rows=3000, features=8, repeats=1)
    assert result["benchmark"] == "read"
    assert set(result["seconds_best"]) == {"bare_pyarrow_to_numpy", "read_recording_parquet", "read_recording_csv"}
    assert all(v > 0 for v in result["seconds_best"].values())
    assert result["parquet_and_csv_read_the_same_values"] is True
    _check_targets(result, {"parquet_over_bare_pyarrow", "parquet_over_csv"})


@pytest.mark.mqtt
def test_update_benchmark_structure(tiny_bundle: Path) -> None:
    from tests.mqtt_broker import require_mosquitto

    require_mosquitto()
    pytest.importorskip("cryptography")
    from edgewatch.bench import update

    result = update.run(bundle=str(tiny_bundle), rate_hz=200.0, seconds=0.5, shadow_readings=50)
    memory = result["verifier_memory"]
    assert memory["ed25519"]["verified"] is True and memory["cryptography"]["verified"] is True
    readings = result["readings"]
    assert readings["sent"] > 0 and readings["scored"] + readings["lost"] >= readings["sent"] - readings["scored_twice"]
    assert [s["step"] for s in result["steps"]][-1] == "swapped"
    assert result["rss_kb"]["update_peak"] > 0
    _check_targets(result, {"verify_rss_over_baseline_kb", "readings_lost", "readings_scored_twice"})


@pytest.mark.mqtt
def test_devices_benchmark_structure(tiny_bundle: Path) -> None:
    from tests.mqtt_broker import require_mosquitto

    require_mosquitto()
    from edgewatch.bench import devices

    result = devices.run(bundle=str(tiny_bundle), seconds=2.0, scales=((200, 2.0),))
    [scale] = result["scales"]
    assert scale["readings_written"] > 800  # 200 devices x 2 Hz x 2 s, and the probe devices' readings
    assert scale["faults_written"] > 0
    assert scale["agent_scored"] > 0 and scale["lost"] == scale["readings_written"] - scale["agent_scored"]
    assert scale["state"]["devices"] == 200 and scale["state"]["save_seconds"] > 0
    assert scale["state"]["sliced"]["same_bytes_as_at_once"] and scale["state"]["sliced"]["slices"] >= 1
    assert set(result["targets"]) == {
        "agent_cpu_fraction_of_a_core_at_10000_devices_2hz",
        "lossless_at_10000_devices_2hz",
        "publish_to_alert_p99_ms_at_10000_devices",
        "kb_per_device_max",
        "state_save_or_restore_seconds_at_10000_devices",
        "state_save_or_restore_seconds_max",
    }


@pytest.mark.mqtt
def test_devices_benchmark_saves_state_during_the_load_when_asked(tiny_bundle: Path) -> None:
    from tests.mqtt_broker import require_mosquitto

    require_mosquitto()
    from edgewatch.bench import devices

    result = devices.run(
        bundle=str(tiny_bundle), seconds=2.0, scales=((200, 2.0),), state_save_interval_s=1.0, state_timing=False
    )
    [scale] = result["scales"]
    assert "state" not in scale and result["parameters"]["state_save_interval_s"] == 1.0
    assert scale["state_file_written"] is True  # the agent saved during the run
    assert scale["queue_depth_max"] is not None and isinstance(scale["stats_gaps_over_1_2_s"], list)
    assert result["targets"]["state_save_or_restore_seconds_max"]["value"] is None
