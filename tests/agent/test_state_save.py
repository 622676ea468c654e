"""The periodic state save taken in slices over loop steps and written by a background thread
(agent/state.py ``SlicedSave``, ``StateWriter``; agent/loop.py): the in-memory transport, an injected clock and
a zero slice budget, so every step takes exactly one chunk of devices -- no timing in any assertion."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from edgewatch.agent.loop import AgentLoop, LoopSettings
from edgewatch.agent.outbox import Outbox
from edgewatch.agent.state import SAVE_CHUNK, SlicedSave, StateStore
from tests.fakes import Clock, reading
from tests.transports.memory import MemoryTransport

T0 = 1_767_225_600.0
INTERVAL = 10.0
DEVICES = 2 * SAVE_CHUNK + 6  # three slices: 32, 32 and 6 devices


@pytest.fixture
def rig(tmp_path: Path, make_pipeline):  # type: ignore[no-untyped-def]
    """A loop saving every INTERVAL s, one chunk of devices per step; returns (loop, transport, clock)."""
    transport = MemoryTransport()
    transport.start()
    clock = Clock()
    loop = AgentLoop(
        LoopSettings(agent_id="pi-7", state_save_interval_s=INTERVAL, state_save_slice_s=0.0, max_devices=10 * DEVICES),
        pipeline=make_pipeline(),
        transport=transport,
        outbox=Outbox(tmp_path / "outbox.db"),
        state=StateStore(tmp_path / "state"),
        clock=clock,
    )
    yield loop, transport, clock
    loop.writer.wait()  # type: ignore[union-attr]
    loop.outbox.close()


def _feed(loop: AgentLoop, transport: MemoryTransport, devices: range, ts: float, value: float = 0.1) -> None:
    for d in devices:
        transport.deliver(f"plant/d{d:03d}/sensors", reading(ts, value), arrival_time=ts)
    while loop.transport.inbox.qsize():
        loop.step(0.0)


def _saved_at_once(pipeline: Any, tmp_path: Path) -> bytes:
    """What the complete, synchronous save writes for ``pipeline`` now."""
    store = StateStore(tmp_path / "at-once")
    store.save(pipeline.state_snapshot())
    return store.path.read_bytes()


def _start_save(loop: AgentLoop, clock: Clock) -> None:
    clock.now += INTERVAL
    loop.step(0.0)  # the first slice


def test_slices_progress_across_steps_finish_and_write_the_bytes_of_a_save_at_once(rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    loop.step(0.0)
    assert loop.saving is None  # not due yet
    _start_save(loop, clock)
    assert loop.saving is not None and loop.saving.position == SAVE_CHUNK
    loop.step(0.0)
    assert loop.saving is not None and loop.saving.position == 2 * SAVE_CHUNK
    loop.step(0.0)
    assert loop.saving is None  # taken: the writer thread has it
    assert loop.writer is not None and loop.writer.wait(10.0)
    assert loop.writer.written == 1 and loop.writer.failed == 0
    assert loop.state is not None and loop.state.path.read_bytes() == _saved_at_once(loop.pipeline, tmp_path)
    assert not loop.state.path.with_name(loop.state.path.name + ".tmp").exists()


def test_the_loop_does_not_wait_for_messages_while_a_save_is_in_progress(rig) -> None:  # type: ignore[no-untyped-def]
    import threading

    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    timeouts: list[float] = []
    stop = threading.Event()
    real_step = loop.step

    def step(timeout: float) -> int:
        timeouts.append(timeout)
        if len(timeouts) == 1:
            clock.now += INTERVAL  # the save is due in the first step
        if loop.saving is None and len(timeouts) > 1:
            stop.set()
        return real_step(0.0)

    loop.step = step  # type: ignore[method-assign]
    loop.run(stop)
    assert timeouts[0] > 0 and timeouts[1:] == [0.0, 0.0, timeouts[0]]  # slices 2 and 3 follow at once


def test_each_device_is_saved_as_it_was_when_its_slice_was_taken_and_a_new_one_next_time(  # type: ignore[no-untyped-def]
    rig, make_pipeline, tmp_path: Path
) -> None:
    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _start_save(loop, clock)  # d000..d031 taken
    _feed(loop, t, range(DEVICES + 1), T0 + 1)  # every device moves on, and d070 is new
    while loop.saving is not None:
        loop.step(0.0)
    assert loop.writer is not None and loop.writer.wait(10.0)
    assert loop.state is not None
    saved = loop.state.load()
    assert saved is not None
    last = {name: device["last_ts"] for name, device in saved["devices"].items()}
    assert set(last) == {f"d{d:03d}" for d in range(DEVICES)}  # d070 came during the save
    assert {last[f"d{d:03d}"] for d in range(SAVE_CHUNK)} == {T0}  # taken before the new readings
    assert {last[f"d{d:03d}"] for d in range(SAVE_CHUNK, DEVICES)} == {T0 + 1}
    fresh = make_pipeline()
    fresh.restore(saved)  # a valid restart point
    assert fresh.devices["d000"].last_ts == T0 and fresh.devices["d069"].last_ts == T0 + 1
    _start_save(loop, clock)
    while loop.saving is not None:
        loop.step(0.0)
    assert loop.writer.wait(10.0)
    assert loop.state.path.read_bytes() == _saved_at_once(loop.pipeline, tmp_path)  # d070 now, all up to date


def test_the_saved_file_restores_every_device(rig, make_pipeline) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _feed(loop, t, range(3), T0 + 1, value=5.0)  # an anomaly: open alerts to carry over
    _start_save(loop, clock)
    while loop.saving is not None:
        loop.step(0.0)
    assert loop.writer is not None and loop.writer.wait(10.0)
    assert loop.state is not None
    fresh = make_pipeline()
    report = fresh.restore(loop.state.load())
    assert set(fresh.devices) == set(loop.pipeline.devices) and report is not None
    assert fresh.state_snapshot() == loop.pipeline.state_snapshot()


def test_shutdown_during_a_save_abandons_it_and_saves_everything_at_once(rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _start_save(loop, clock)
    _feed(loop, t, range(DEVICES), T0 + 1)
    assert loop.saving is not None
    loop.save_state()  # what the service does at shutdown
    assert loop.saving is None
    assert loop.state is not None and loop.state.path.read_bytes() == _saved_at_once(loop.pipeline, tmp_path)
    assert loop.writer is not None and loop.writer.written == 0  # the sliced one was never written


def test_a_model_update_during_a_save_writes_only_the_new_model(rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from edgewatch.core.alerts import AlertConfig
    from edgewatch.core.config import PipelineConfig
    from edgewatch.core.handover import hand_over
    from edgewatch.core.pipeline import Pipeline
    from edgewatch.core.thresholds import ThresholdConfig
    from tests.fakes import QUICK_ALERTS, SquaredScorer, make_manifest

    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _start_save(loop, clock)
    old = loop.pipeline
    config = PipelineConfig(ThresholdConfig(mode="fixed"), AlertConfig(**QUICK_ALERTS))
    new = Pipeline(make_manifest(model_id="dense-ae-feedface"), SquaredScorer(), config)
    hand_over(old, new)  # what the update manager does before replace_pipeline
    loop.replace_pipeline(new)
    assert loop.saving is None
    for _ in range(5):
        loop.step(0.0)
    assert loop.writer is not None and loop.writer.wait(10.0) and loop.writer.written == 0
    assert loop.state is not None
    saved = loop.state.load()
    assert saved is not None and saved["model_id"] == "dense-ae-feedface" and len(saved["devices"]) == DEVICES
    assert loop.state.path.read_bytes() == _saved_at_once(new, tmp_path)


def test_a_save_whose_pipeline_was_replaced_without_a_save_is_abandoned(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _start_save(loop, clock)
    loop.pipeline = type(loop.pipeline)(loop.pipeline.manifest, loop.pipeline.scorer, loop.pipeline.config)
    loop.step(0.0)
    assert loop.saving is None
    assert loop.writer is not None and loop.writer.wait(10.0) and loop.writer.written == 0
    assert loop.state is not None and not loop.state.path.exists()


def test_a_failed_write_is_logged_and_the_next_interval_saves_again(  # type: ignore[no-untyped-def]
    rig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loop, t, clock = rig
    assert loop.state is not None and loop.writer is not None
    real_write = loop.state.write
    calls = []

    def full_disk(parts: list[bytes]) -> None:
        calls.append(len(parts))
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_write(parts)

    loop.state.write = full_disk  # type: ignore[method-assign]
    _feed(loop, t, range(DEVICES), T0)
    with caplog.at_level(logging.ERROR):
        _start_save(loop, clock)
        while loop.saving is not None:
            loop.step(0.0)
        assert loop.writer.wait(10.0)
    assert loop.writer.failed == 1 and not loop.state.path.exists()
    assert any("cannot save the pipeline state" in r.getMessage() for r in caplog.records)
    _feed(loop, t, range(DEVICES), T0 + 1)  # the agent goes on scoring
    assert loop.stats.scored_total > 0
    _start_save(loop, clock)
    while loop.saving is not None:
        loop.step(0.0)
    assert loop.writer.wait(10.0) and loop.writer.written == 1
    assert loop.state.path.read_bytes() == _saved_at_once(loop.pipeline, tmp_path)


def test_an_unexpected_error_in_the_writer_is_logged_not_raised(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from edgewatch.agent.state import StateWriter

    store = StateStore(tmp_path)
    store.write = lambda parts: 1 / 0  # type: ignore[assignment,method-assign,misc]
    writer = StateWriter(store)
    with caplog.at_level(logging.ERROR):
        writer.submit([b"{}"])
        assert writer.wait(10.0)
    assert writer.failed == 1 and "cannot save the pipeline state" in caplog.text


def test_no_new_save_starts_while_the_writer_is_busy(rig) -> None:  # type: ignore[no-untyped-def]
    import threading

    loop, t, clock = rig
    assert loop.state is not None and loop.writer is not None
    release = threading.Event()
    real_write = loop.state.write

    def slow(parts: list[bytes]) -> None:
        release.wait(10.0)
        real_write(parts)

    loop.state.write = slow  # type: ignore[method-assign]
    _feed(loop, t, range(3), T0)
    _start_save(loop, clock)  # three devices: one slice, handed to the writer
    assert loop.saving is None and loop.writer.busy
    _start_save(loop, clock)
    assert loop.saving is None  # due, but waits for the writer
    release.set()
    assert loop.writer.wait(10.0)
    loop.step(0.0)
    assert loop.writer.wait(10.0) and loop.writer.written == 2


def test_sliced_save_of_no_device_and_chunk_checks(make_pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline()
    save = SlicedSave(pipeline, chunk=1)
    assert save.advance(0.0) and save.done and save.slices == 1
    assert b"".join(save.parts) == _saved_at_once(pipeline, tmp_path)
    with pytest.raises(ValueError):
        SlicedSave(pipeline, chunk=0)


def test_a_slice_waits_while_readings_pile_up_but_not_forever(rig) -> None:  # type: ignore[no-untyped-def]
    from edgewatch.agent.loop import SAVE_YIELD_STEPS

    loop, t, clock = rig
    _feed(loop, t, range(DEVICES), T0)
    _start_save(loop, clock)
    assert loop.saving is not None and loop.saving.position == SAVE_CHUNK
    waiting = 2 * loop.settings.batch_max + 1
    for i in range(waiting):  # after the next step's batch, more wait than one batch: it leaves the slice
        t.deliver("plant/busy/sensors", reading(T0 + 1 + i), arrival_time=T0 + 1 + i)
    loop.step(0.0)
    assert loop.saving.position == SAVE_CHUNK
    for _ in range(SAVE_YIELD_STEPS - 1):  # a long backlog: the slices wait at most SAVE_YIELD_STEPS steps
        for i in range(loop.settings.batch_max):
            t.deliver("plant/busy/sensors", reading(T0 + 1000 + i), arrival_time=T0 + 1000 + i)
        loop.step(0.0)
    assert loop.saving.position == SAVE_CHUNK and t.inbox.qsize() > loop.settings.batch_max
    loop.step(0.0)
    assert loop.saving.position == 2 * SAVE_CHUNK
