"""The spoken coach (``practice --speak``): replies read aloud, one at a time.

Each reply goes text → WAV file → sound card. A *synthesiser* writes the file (espeak-ng,
offline, or OpenAI text-to-speech when ``speech = openai``) and a *player* plays it through
sounddevice. Both stages run on the speaker's own thread, so:

- replies never overlap: one is spoken at a time;
- speech never falls behind the playing: at most one reply waits, and a newer reply
  *replaces* the waiting one (a tip about what was played half a minute ago is stale once
  the current one ends; the closing summary likewise replaces a waiting tip). The reply being
  spoken is never cut off by a new one;
- :meth:`Speaker.say` never blocks (a lock and a notify), so the coach, UI and audio threads
  never wait for speech;
- nothing is printed: subprocess output is captured, and each problem is reported once, as
  one line, to ``on_warning`` (the practice room shows it as a notification, the headless
  mode on stderr);
- failures degrade: OpenAI failing → espeak-ng for the rest of the session; playback failing
  (no sound card) → text only for the rest of the session.

Nothing heavy is imported here at module level (openai, soundfile, sounddevice load on use).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fretcoach_cli.config import Settings

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # never Python's last-resort stderr handler

ESPEAK = "espeak-ng"
OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
OPENAI_TTS_VOICE = "alloy"
INSTALL_HINT = "sudo apt install espeak-ng"

Warn = Callable[[str], None]


class SpeechError(Exception):
    """A reply could not be synthesised or played (one line, for ``on_warning``)."""


# --------------------------------------------------------------------------------------------
# Synthesisers: text → WAV file


class Synth(Protocol):
    name: str

    def synthesize(self, text: str, path: Path) -> Path: ...


class EspeakSynth:
    """espeak-ng writing a WAV file (``-w``); the text goes through stdin, never argv."""

    name = ESPEAK

    def __init__(self, binary: str | None = None, voice: str = "", words_per_minute: int = 160,
                 timeout_s: float = 20.0) -> None:
        self.binary = binary or shutil.which(ESPEAK) or ""
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.timeout_s = timeout_s

    @property
    def available(self) -> bool:
        return bool(self.binary) and os.access(self.binary, os.X_OK)

    def synthesize(self, text: str, path: Path) -> Path:
        if not self.available:
            raise SpeechError(f"{ESPEAK} is not installed ({INSTALL_HINT})")
        cmd = [self.binary, "-w", str(path), "-s", str(self.words_per_minute), "--stdin"]
        if self.voice:
            cmd[1:1] = ["-v", self.voice]
        try:
            proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SpeechError(f"{ESPEAK} failed: {exc}") from None
        if proc.returncode != 0 or not path.exists() or path.stat().st_size <= 44:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpeechError(f"{ESPEAK} failed: {detail[-1] if detail else proc.returncode}")
        return path


class OpenAISynth:
    """OpenAI text-to-speech (``audio.speech``) streamed to a WAV file."""

    name = "openai"

    def __init__(self, *, api_key: str, base_url: str = "", model: str = OPENAI_TTS_MODEL,
                 voice: str = "", timeout_s: float = 20.0) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.model = model or OPENAI_TTS_MODEL
        self.voice = voice or OPENAI_TTS_VOICE
        self.timeout_s = timeout_s
        self._client: Any = None

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(api_key=self.api_key, base_url=self.base_url or None,
                                  timeout=self.timeout_s, max_retries=0)
        return self._client

    def synthesize(self, text: str, path: Path) -> Path:
        try:
            speech = self._get_client().audio.speech.with_streaming_response
            with speech.create(model=self.model, voice=self.voice, input=text,
                               response_format="wav") as response:
                response.stream_to_file(path)
        except Exception as exc:
            first = str(exc).strip().splitlines()
            raise SpeechError(f"OpenAI speech failed: "
                              f"{first[0] if first else type(exc).__name__}") from None
        if not path.exists() or path.stat().st_size <= 44:
            raise SpeechError("OpenAI speech failed: empty audio")
        return path


# --------------------------------------------------------------------------------------------
# Player: WAV file → sound card


class SoundPlayer:
    """Plays a file through sounddevice's default output (blocking until it ends)."""

    def play(self, path: Path) -> None:
        try:
            import sounddevice as sd
            import soundfile as sf

            data, rate = sf.read(str(path), dtype="float32", always_2d=False)
            sd.play(data, rate)
            sd.wait()
        except Exception as exc:
            first = str(exc).strip().splitlines()
            raise SpeechError(f"cannot play speech: "
                              f"{first[0] if first else type(exc).__name__}") from None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            import sounddevice as sd

            sd.stop()


class Player(Protocol):
    def play(self, path: Path) -> None: ...
    def stop(self) -> None: ...


# --------------------------------------------------------------------------------------------
# The speaker


@dataclass(frozen=True)
class Utterance:
    text: str
    kind: str = "live"


class Speaker:
    """One speaking thread per session; see the module docstring for the rules."""

    def __init__(self, synth: Synth, player: Player | None = None, *,
                 fallback: Synth | None = None, on_warning: Warn | None = None) -> None:
        self.synth = synth
        self.fallback = fallback
        self.player = player or SoundPlayer()
        self.on_warning = on_warning
        self.spoken: list[Utterance] = []  # in the order they were played
        self.replaced: list[Utterance] = []  # waiting replies a newer one replaced
        self.warnings: list[str] = []
        self.silent = False  # text only from now on (playback failed)
        self._cond = threading.Condition()
        self._waiting: Utterance | None = None
        self._speaking = False
        self._closed = False
        self._tmp = Path(tempfile.mkdtemp(prefix="fretcoach-speech-"))
        self._count = 0
        self._thread = threading.Thread(target=self._run, name="fretcoach-speaker", daemon=True)
        self._thread.start()

    # -- callers (any thread; never blocks) ----------------------------------------------
    def say(self, text: str, kind: str = "live") -> bool:
        """Queue a reply; False when speech is off (closed or silent) or there is no text."""
        text = " ".join(str(text).split())
        if not text:
            return False
        with self._cond:
            if self._closed or self.silent:
                return False
            if self._waiting is not None:
                self.replaced.append(self._waiting)
            self._waiting = Utterance(text, kind)
            self._cond.notify_all()
        return True

    def __call__(self, reply: Any) -> None:
        """A ``CoachLink`` reply listener."""
        self.say(reply.text, getattr(reply, "kind", "live"))

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._speaking or self._waiting is not None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is spoken or waiting (e.g. the closing words in headless mode)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._speaking and self._waiting is None,
                                       timeout)

    def close(self, *, wait_s: float = 0.0) -> None:
        """Stop speaking: after ``wait_s`` seconds at most for what is queued, anything still
        playing is cut and the rest dropped."""
        if wait_s > 0:
            self.wait_idle(wait_s)
        with self._cond:
            self._closed = True
            self._waiting = None
            self._cond.notify_all()
        self.player.stop()
        self._thread.join(5)
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- the speaker thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._waiting is not None)
                if self._closed:
                    self._speaking = False
                    self._cond.notify_all()
                    return
                item, self._waiting = self._waiting, None
                assert item is not None  # wait_for above: not closed, so something waits
                self._speaking = True
            try:
                self._speak(item)
            finally:
                with self._cond:
                    self._speaking = False
                    self._cond.notify_all()

    def _speak(self, item: Utterance) -> None:
        self._count += 1
        path = self._tmp / f"reply-{self._count}.wav"
        try:
            try:
                self.synth.synthesize(item.text, path)
            except SpeechError as exc:
                if self.fallback is None:
                    self._warn(f"{exc}; the coach stays silent")
                    self._go_silent()
                    return
                self._warn(f"{exc}; speaking with {self.fallback.name} instead")
                self.synth, self.fallback = self.fallback, None
                self.synth.synthesize(item.text, path)
            if self._closed:
                return
            self.player.play(path)
            self.spoken.append(item)
        except SpeechError as exc:
            self._warn(f"{exc}; the coach is text-only from now on")
            self._go_silent()
        except Exception as exc:  # never let speech take anything else down
            log.exception("speech failed")
            self._warn(f"speech failed ({type(exc).__name__}); the coach is text-only now")
            self._go_silent()
        finally:
            path.unlink(missing_ok=True)

    def _go_silent(self) -> None:
        with self._cond:
            self.silent = True
            if self._waiting is not None:
                self.replaced.append(self._waiting)
            self._waiting = None

    def _warn(self, line: str) -> None:
        self.warnings.append(line)
        if self.on_warning is not None:
            try:
                self.on_warning(line)
            except Exception:
                log.exception("speech warning could not be shown")


# --------------------------------------------------------------------------------------------
# From settings


def openai_credentials(settings: Settings, env: Mapping[str, str] | None = None
                       ) -> tuple[str, str]:
    """(api key, base URL) for OpenAI speech: the coach's OpenAI key and URL when the coach
    uses OpenAI, else ``OPENAI_API_KEY`` (base URL: the SDK's default / ``OPENAI_BASE_URL``)."""
    env = os.environ if env is None else env
    if settings.llm_provider.strip().lower() == "openai":
        key = settings.llm_api_key or env.get("OPENAI_API_KEY", "")
        return key, settings.llm_base_url
    return env.get("OPENAI_API_KEY", ""), ""


def speaker_from_settings(settings: Settings, *, on_warning: Warn | None = None,
                          player: Player | None = None,
                          env: Mapping[str, str] | None = None) -> Speaker | None:
    """The session's speaker, or None (after one ``on_warning`` line) when nothing can speak.

    ``speech = espeak`` needs the espeak-ng program; ``speech = openai[:MODEL]`` needs an
    OpenAI key, and falls back to espeak-ng (if installed) when OpenAI fails.
    """
    choice = (settings.speech or "espeak").strip()  # a file's `speech = ""` means espeak
    engine, _, model = choice.partition(":")
    voice = settings.speech_voice
    espeak = EspeakSynth(voice="" if engine == "openai" else voice)

    def warn(line: str) -> None:
        if on_warning is not None:
            on_warning(line)

    if engine == "openai":
        from fretcoach_cli.llm.limits import limits_for

        key, base_url = openai_credentials(settings, env)
        if key or base_url:
            synth = OpenAISynth(api_key=key or "not-needed", base_url=base_url,
                                model=model or OPENAI_TTS_MODEL, voice=voice,
                                timeout_s=limits_for(settings, base_url).answer_s)
            return Speaker(synth, player, fallback=espeak if espeak.available else None,
                           on_warning=on_warning)
        if not espeak.available:
            warn("speech: OpenAI speech needs an API key (llm_api_key or OPENAI_API_KEY) and "
                 f"{ESPEAK} is not installed ({INSTALL_HINT}); the coach stays silent")
            return None
        warn(f"speech: OpenAI speech needs an API key (llm_api_key or OPENAI_API_KEY); "
             f"speaking with {ESPEAK}")
        return Speaker(espeak, player, on_warning=on_warning)
    if not espeak.available:
        warn(f"speech: {ESPEAK} is not installed ({INSTALL_HINT}); the coach stays silent")
        return None
    return Speaker(espeak, player, on_warning=on_warning)
