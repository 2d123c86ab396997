"""The development-set plan (no rendering) and the accuracy benchmark end to end."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

from audio_fixtures import BENCH, bench_module, render

devset = bench_module("devset")


@pytest.mark.parametrize("category", devset.CATEGORIES)
def test_clip_plans_are_deterministic_and_within_spec(category: str) -> None:
    for i in range(devset.PER_CATEGORY):
        notes, params = devset.clip_plan(category, i)
        again, params2 = devset.clip_plan(category, i)
        assert notes == again and params == params2
        assert 60 <= params["bpm"] <= 180
        assert 10.0 <= notes[-1].offset + 1.0 <= 21.0
        onsets = [n.onset for n in notes]
        assert onsets == sorted(onsets)
        # monophonic: a note ends before the next starts
        assert all(a.offset <= b.onset + 1e-9 for a, b in itertools.pairwise(notes))
        pcs = render.scale_pcs(params["key"], params["scale"])
        wrong = [n for n in notes if n.midi % 12 not in pcs]
        assert len(wrong) <= 3
        detuned = [n for n in notes if n.cents]
        assert 1 <= len(detuned) <= 3
        assert all(5.0 <= abs(n.cents) <= 40.0 for n in detuned)
        if category == "low":
            assert all(40 <= n.midi <= 54 for n in notes)
        if category == "legato":
            assert params["articulation"] == 1.0
        if category.startswith("noisy"):
            assert params["augment"][0][:2] == ["noise", int(category[5:])]


def test_plans_differ_between_clips() -> None:
    keys = {devset.clip_plan("clean", i)[1]["bpm"] for i in range(devset.PER_CATEGORY)}
    assert len(keys) == devset.PER_CATEGORY


def test_accuracy_benchmark_runs_on_the_demo_example() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "accuracy.py"), "--examples-only", "--limit", "1",
         "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    overall = doc["categories"]["overall"]
    assert overall["clips"] == 1 and overall["ref_notes"] == 86
    assert overall["onset_f1"] > 0.9 and overall["note_f1"] > 0.9
    assert overall["octave_errors"] == 0
