"""Local fake HTTP servers (127.0.0.1, ephemeral ports) speaking real wire formats.

Tests drive the real client libraries (openai via ChatOpenAI, google-genai via
ChatGoogleGenerativeAI, the Opik SDK) against these, so the HTTP, SSE and JSON handling under
test is the production code path. Each server records what it received and plays a script of
behaviours (reply, tool call, HTTP error, hang, garbage) queued by the test.
"""

from .base import FakeServer, Recorded
from .gemini import FakeGemini
from .openai_chat import FakeOpenAI
from .opik import FakeOpik

__all__ = ["FakeGemini", "FakeOpenAI", "FakeOpik", "FakeServer", "Recorded"]
