"""The spoken coach: espeak-ng and OpenAI speech writing real WAV files, the one-at-a-time
queue, and graceful degradation when there is no sound card (there is none here) or no
espeak-ng."""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fakes.base import FakeServer, Recorded
from fretcoach_cli import config
from fretcoach_cli.coach.speech import (
    EspeakSynth,
    OpenAISynth,
    SoundPlayer,
    Speaker,
    SpeechError,
    speaker_from_settings,
)

TIP = "Your D4 is fifteen cents sharp: relax the thumb behind the neck."
# espeak-ng comes from scripts/apt-packages.txt: without it these tests fail (never skip)
needs_espeak = pytest.mark.usefixtures("espeak_installed")


@pytest.fixture
def espeak_installed() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (see scripts/apt-packages.txt)", pytrace=False)


def _audio(path: Path) -> tuple[float, float]:
    """(duration s, RMS) of a sound file."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return len(data) / rate, float(np.sqrt(np.mean(data**2)))


class RecordingPlayer:
    """A stand-in for the sound card (there is none here): keeps what it was asked to play,
    optionally holding each playback until the test releases it, and checks no two play at
    once."""

    def __init__(self, gated: bool = False) -> None:
        self.gated = gated
        self.played: list[tuple[float, float]] = []  # (duration, rms) of each file
        self.playing = 0
        self.max_playing = 0
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.stopped = False
        self._lock = threading.Lock()

    def play(self, path: Path) -> None:
        with self._lock:
            self.playing += 1
            self.max_playing = max(self.max_playing, self.playing)
        try:
            self.played.append(_audio(path))
            self.started.release()
            if self.gated:
                assert self.release.acquire(timeout=30), "the test never released playback"
        finally:
            with self._lock:
                self.playing -= 1

    def stop(self) -> None:
        self.stopped = True
        self.release.release()


@needs_espeak
def test_espeak_ng_writes_a_real_wav(tmp_path):
    path = EspeakSynth().synthesize(TIP, tmp_path / "tip.wav")
    duration, rms = _audio(path)
    assert duration > 1.0  # a sentence, not a click
    assert rms > 0.01  # not silence


@needs_espeak
def test_text_is_never_taken_as_options(tmp_path):
    path = EspeakSynth().synthesize("--version -w /etc/passwd", tmp_path / "x.wav")
    assert _audio(path)[0] > 0.3 and not (tmp_path / "--version").exists()


def test_missing_espeak_is_a_clear_error(tmp_path):
    synth = EspeakSynth(binary=str(tmp_path / "no-espeak"))
    assert not synth.available
    with pytest.raises(SpeechError, match="espeak-ng is not installed"):
        synth.synthesize(TIP, tmp_path / "x.wav")


@needs_espeak
def test_replies_never_overlap_and_a_newer_one_replaces_the_waiting_one():
    player = RecordingPlayer(gated=True)
    speaker = Speaker(EspeakSynth(), player)
    try:
        assert speaker.say("First tip.")
        assert player.started.acquire(timeout=30)  # "First tip." is playing now
        # while it plays, say() returns at once; the newest waiting reply wins
        assert speaker.say("Second tip.")
        assert speaker.say("Third tip.")
        assert speaker.say("Closing words.", kind="summary")
        assert speaker.busy
        player.release.release()  # first ends → the waiting one starts
        assert player.started.acquire(timeout=30)
        player.release.release()
        assert speaker.wait_idle(30)
    finally:
        speaker.close()
    assert [(u.text, u.kind) for u in speaker.spoken] == [("First tip.", "live"),
                                                          ("Closing words.", "summary")]
    assert [u.text for u in speaker.replaced] == ["Second tip.", "Third tip."]
    assert player.max_playing == 1
    assert all(d > 0.3 and rms > 0.01 for d, rms in player.played)
    assert speaker.warnings == []


@needs_espeak
def test_replies_in_order_when_each_ends_before_the_next():
    player = RecordingPlayer()
    speaker = Speaker(EspeakSynth(), player)
    try:
        for text in ("One.", "Two.", "Three."):
            assert speaker.say(text)
            assert speaker.wait_idle(30)
    finally:
        speaker.close()
    assert [u.text for u in speaker.spoken] == ["One.", "Two.", "Three."]
    assert speaker.replaced == [] and player.max_playing == 1


@needs_espeak
def test_no_sound_card_means_one_warning_then_text_only():
    warnings: list[str] = []
    speaker = Speaker(EspeakSynth(), SoundPlayer(), on_warning=warnings.append)
    try:
        assert speaker.say("First tip.")
        assert speaker.wait_idle(30)
        assert speaker.silent
        assert not speaker.say("Second tip.")  # text only from now on, no second warning
    finally:
        speaker.close()
    assert len(warnings) == 1
    assert warnings[0].startswith("cannot play speech") and "text-only" in warnings[0]
    assert "\n" not in warnings[0]


def test_closed_speaker_takes_nothing():
    speaker = Speaker(EspeakSynth(), RecordingPlayer())
    speaker.close()
    assert not speaker.say("Too late.")
    assert speaker.spoken == []


# -- OpenAI speech against a local fake server ---------------------------------------------

def _wav_bytes(seconds: float = 0.5, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), rate, format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


class FakeOpenAISpeech(FakeServer):
    """POST /v1/audio/speech → a WAV file (``wav``), or an HTTP error (``error``)."""

    def __init__(self) -> None:
        super().__init__()
        self.set_default("wav")

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def speech_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/audio/speech")]

    def handle(self, handler, rec: Recorded) -> None:
        if not rec.path.endswith("/audio/speech"):
            handler.send_json(404, {"error": {"message": f"no route {rec.path}"}})
            return
        step = self.next_step()
        if step is not None and step.kind == "error":
            handler.send_json(step.data.get("status", 500),
                              {"error": {"message": "speech is down", "type": "server_error"}})
            return
        handler.send_raw(200, _wav_bytes(), "audio/wav")


@pytest.fixture
def fake_speech():
    with FakeOpenAISpeech() as server:
        yield server


def test_openai_speech_writes_the_served_file(fake_speech, tmp_path):
    synth = OpenAISynth(api_key="sk-test", base_url=fake_speech.base_url, voice="coral")
    path = synth.synthesize(TIP, tmp_path / "tip.wav")
    assert _audio(path) == pytest.approx((0.5, 0.3 / np.sqrt(2)), rel=0.01)
    body = fake_speech.speech_requests()[-1].body
    assert body == {"model": "gpt-4o-mini-tts", "voice": "coral", "input": TIP,
                    "response_format": "wav"}
    assert fake_speech.speech_requests()[-1].headers["authorization"] == "Bearer sk-test"


def _openai_settings(fake_speech, **extra) -> config.Settings:
    return config.load().with_overrides(speech="openai", llm_provider="openai",
                                        llm_base_url=fake_speech.base_url,
                                        llm_api_key="sk-coach", **extra)


def test_speech_openai_setting_uses_the_coach_openai_link(fake_speech):
    player = RecordingPlayer()
    speaker = speaker_from_settings(_openai_settings(fake_speech, speech_voice="verse"),
                                    player=player)
    assert speaker is not None and isinstance(speaker.synth, OpenAISynth)
    try:
        assert speaker.say(TIP)
        assert speaker.wait_idle(30)
    finally:
        speaker.close()
    assert [u.text for u in speaker.spoken] == [TIP]
    assert player.played == [pytest.approx((0.5, 0.3 / np.sqrt(2)), rel=0.01)]
    request = fake_speech.speech_requests()[-1]
    assert request.body["voice"] == "verse"
    assert request.headers["authorization"] == "Bearer sk-coach"


@needs_espeak
def test_openai_failure_falls_back_to_espeak_with_one_warning(fake_speech):
    fake_speech.push("error", status=500)
    warnings: list[str] = []
    player = RecordingPlayer()
    speaker = speaker_from_settings(_openai_settings(fake_speech), player=player,
                                    on_warning=warnings.append)
    assert speaker is not None
    try:
        for text in ("First tip.", "Second tip."):
            assert speaker.say(text)
            assert speaker.wait_idle(30)
    finally:
        speaker.close()
    assert [u.text for u in speaker.spoken] == ["First tip.", "Second tip."]
    assert len(warnings) == 1 and "OpenAI speech failed" in warnings[0]
    assert "speaking with espeak-ng instead" in warnings[0]
    assert len(fake_speech.speech_requests()) == 1  # OpenAI is not asked again
    assert all(d > 0.3 for d, _ in player.played)


def test_no_espeak_means_one_line_and_no_speaker(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    warnings: list[str] = []
    speaker = speaker_from_settings(config.load(), on_warning=warnings.append)
    assert speaker is None
    assert warnings == ["speech: espeak-ng is not installed (sudo apt install espeak-ng); "
                        "the coach stays silent"]
