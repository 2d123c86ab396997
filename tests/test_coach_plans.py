"""Practice plans: one schema, statistics computed in Python, structured output from models
(OpenAI tool calls, Gemini JSON) with every malformed answer rejected, and the offline planner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fakes.fixtures import *  # noqa: F403
from fretcoach_cli.coach.plans import (
    PracticePlan,
    offline_plan,
    recommend,
    recommendation_input,
    suggested_scales,
)
from fretcoach_cli.llm.chain import ProviderChain
from fretcoach_cli.llm.links import LinkSpec

GOOD = {"scale": "e dorian", "focus_area": "timing_stability",
        "reasoning": "Timing averaged 58, down 6 points.", "target_tempo_bpm": 70,
        "strictness": 0.5, "sensitivity": 0.6, "session_target": {"minutes": 12},
        "exercises": ["One note per click at 70 BPM", "Then two notes per click"]}


def _rows() -> list[dict]:
    rows = []
    for i in range(6):
        rows.append({"start_time": f"2026-11-{10 + i:02d}T18:00:00",
                     "scale_chosen": "A minor pentatonic" if i % 2 else "C major",
                     "pitch_accuracy": 80 + i, "scale_conformity": 92,
                     "timing_stability": 70 - 2 * i + (10 if i % 2 == 0 else 0),
                     "clean_playing": 95, "scale_coverage": 85, "duration_seconds": 600,
                     "tempo_bpm": 80, "strictness": 0.5, "sensitivity": 0.5})
    return rows


def _chain(*specs: LinkSpec) -> ProviderChain:
    return ProviderChain(specs, retries=0, timeout=5)


def test_recommendation_input_is_computed_from_the_rows():
    data = recommendation_input(_rows())
    assert data.sessions == 6 and data.minutes == 60.0
    assert data.averages["timing_stability"] == pytest.approx(
        sum(70 - 2 * i + (10 if i % 2 == 0 else 0) for i in range(6)) / 6, abs=0.05)
    assert data.weakest_area == "timing_stability"
    assert data.trend["pitch_accuracy"] == pytest.approx(84 - 81)  # newest half − oldest half
    by_scale = {s.scale: s for s in data.per_scale}
    assert by_scale["A minor pentatonic"].averages["timing_stability"] == pytest.approx(
        (68 + 64 + 60) / 3, abs=0.05)
    assert data.last_scale == "A minor pentatonic"  # i = 5 is the newest


def test_plan_schema_normalises_and_rejects_scales():
    assert PracticePlan.model_validate(GOOD).scale == "E dorian"
    with pytest.raises(ValidationError, match="unknown"):
        PracticePlan.model_validate({**GOOD, "scale": "H hyperlydian"})
    with pytest.raises(ValidationError):
        PracticePlan.model_validate({**GOOD, "focus_area": "vibes"})
    with pytest.raises(ValidationError, match="minutes or notes"):
        PracticePlan.model_validate({**GOOD, "session_target": {}})


def test_structured_recommendation_through_a_json_schema_response_format(fake_openai):
    fake_openai.push("tool_call", arguments=GOOD)
    result = recommend(recommendation_input(_rows()), chain=_chain(
        LinkSpec("openai", "gpt-test", fake_openai.base_url, "sk")))
    assert result.source == "gpt-test" and result.store_source == "model"
    assert result.plan.scale == "E dorian" and result.plan.focus_area == "timing_stability"
    request = fake_openai.chat_requests()[-1].body
    assert "tools" not in request and "tool_choice" not in request
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "PracticePlan"
    assert request["max_completion_tokens"] > 0
    statistics = request["messages"][-1]["content"]
    assert '"weakest_area": "timing_stability"' in statistics


@pytest.mark.parametrize("bad", [
    {"raw": "{this is not json"},
    {"arguments": {**GOOD, "scale": "Q hyperlydian"}},
    {"arguments": {**GOOD, "strictness": 7}},
])
def test_malformed_structured_output_is_retried_once(fake_openai, bad):
    fake_openai.push("tool_call", **bad)
    fake_openai.push("tool_call", arguments=GOOD)
    result = recommend(recommendation_input(_rows()), chain=_chain(
        LinkSpec("openai", "gpt-test", fake_openai.base_url, "sk")))
    assert result.source == "gpt-test" and result.plan.scale == "E dorian"
    assert [a.kind for a in result.attempts] == ["bad_output", ""]
    retry = fake_openai.chat_requests()[-1].body["messages"][-1]["content"]
    assert retry.startswith("Your previous answer could not be used")


def test_twice_malformed_moves_to_the_next_model(fake_openai, fake_gemini):
    fake_openai.push("tool_call", arguments={**GOOD, "scale": "Z major"})
    fake_openai.push("tool_call", arguments={**GOOD, "scale": "Z major"})
    fake_gemini.push("json", value={**GOOD, "scale": "G mixolydian"})
    result = recommend(recommendation_input(_rows()), chain=_chain(
        LinkSpec("openai", "gpt-test", fake_openai.base_url, "sk"),
        LinkSpec("gemini", "gemini-test", fake_gemini.base_url, "g")))
    assert result.source == "gemini-test" and result.plan.scale == "G mixolydian"
    assert "Z major" not in result.plan.model_dump_json()


@pytest.mark.parametrize("nothing", ["none", "empty"])
def test_gemini_returning_nothing_is_a_failure_not_a_plan(fake_gemini, nothing):
    fake_gemini.push(nothing)
    fake_gemini.push(nothing)
    result = recommend(recommendation_input(_rows()), chain=_chain(
        LinkSpec("gemini", "gemini-test", fake_gemini.base_url, "g")))
    assert result.source == "offline"
    assert [a.kind for a in result.attempts] == ["bad_output", "bad_output"]
    assert result.plan == offline_plan(recommendation_input(_rows()))


def test_429_on_primary_recommends_from_the_secondary(fake_openai, fake_openai2):
    fake_openai.push("error", status=429)
    fake_openai2.push("tool_call", arguments=GOOD)
    result = recommend(recommendation_input(_rows()), chain=_chain(
        LinkSpec("openai", "primary", fake_openai.base_url, "sk"),
        LinkSpec("openai", "secondary", fake_openai2.base_url, "sk")))
    assert result.source == "secondary"
    assert [a.kind for a in result.attempts] == ["rate_limit", ""]


def test_a_recently_suggested_scale_is_rejected(fake_openai):
    fake_openai.push("tool_call", arguments=GOOD)  # E dorian, which is to be avoided
    fake_openai.push("tool_call", arguments={**GOOD, "scale": "B minor"})
    result = recommend(recommendation_input(_rows()), avoid=["E dorian"], chain=_chain(
        LinkSpec("openai", "gpt-test", fake_openai.base_url, "sk")))
    assert result.plan.scale == "B natural minor"
    assert "E dorian" in fake_openai.chat_requests()[0].body["messages"][-1]["content"]


def test_offline_plan_targets_the_weakest_area_where_it_is_weakest():
    data = recommendation_input(_rows())
    plan = offline_plan(data)
    assert plan.focus_area == "timing_stability"
    assert plan.scale == "A minor pentatonic"  # timing 64 there vs 76 on C major
    assert plan.target_tempo_bpm == 70  # 85 % of the last 80 BPM, to the nearest 5
    assert "averaged 70 over the last 6 sessions" in plan.reasoning
    another = offline_plan(data, avoid=["A minor pentatonic"])
    assert another.scale == "C major"
    third = offline_plan(data, avoid=["A minor pentatonic", "C major"])
    assert third.scale not in ("A minor pentatonic", "C major")
    assert offline_plan(data) == plan  # deterministic
    assert plan.target_accuracy == 75  # timing averaged 70: five points over it


def test_offline_plan_for_a_new_user():
    plan = offline_plan(recommendation_input([]))
    assert plan.scale == "A minor pentatonic" and "No sessions yet" in plan.reasoning
    assert plan.target_accuracy is None  # nothing to measure a target against


def test_a_models_plan_gets_the_same_completion_score_as_an_offline_one(fake_openai):
    """The wire schema does not ask a small model for a target score; the plan still has the
    one the offline planner would set for its focus area, and it is stored for `settle`."""
    fake_openai.push("tool_call", arguments=GOOD)
    data = recommendation_input(_rows())
    result = recommend(data, chain=_chain(
        LinkSpec("openai", "gpt-test", fake_openai.base_url, "sk")))
    assert result.plan.focus_area == "timing_stability"
    assert result.plan.target_accuracy == offline_plan(data).target_accuracy == 75
    assert result.plan.stored("gpt-test")["target_accuracy"] == 75


def test_suggested_scales_reads_stored_documents_of_any_shape():
    docs = [{"scale": "e dorian"}, {"title": "Clean up C major"}, {"scale": "E dorian"},
            {"scale": "nonsense scale"}, {"scale": "A blues"}, {"scale": "G major"}]
    assert suggested_scales(docs) == ["E dorian", "A blues", "G major"]
