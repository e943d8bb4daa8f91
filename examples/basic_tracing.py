"""Basic workflow tracing: a msgflux pipeline of modules, traced with one line.

Runs offline: the model is `ScriptedChatModel`, a stand-in that implements msgflux's chat-model
interface (swap in `Model.chat_completion("openai/gpt-4o-mini")` for a real one).

    python examples/basic_tracing.py [--port 4321] [--data-dir ./msgtrace-data]
"""

from __future__ import annotations

from _common import parse_args, wait_for_trace

from msgtrace.integration import quick_start

args = parse_args(__doc__ or "")

# Setup: start msgtrace and point msgflux's telemetry at it.
observer = quick_start(port=args.port, data_dir=args.data_dir)

import msgflux.nn as nn  # noqa: E402
from msgflux.nn import Predictor  # noqa: E402

from msgtrace.demo_model import ScriptedChatModel  # noqa: E402


class CleanText(nn.Module):
    def forward(self, text: str) -> str:
        return " ".join(text.split())


class SentimentAnalyzer(nn.Module):
    """Cleans the text, then asks the model for the sentiment."""

    def __init__(self) -> None:
        super().__init__()
        self.clean = CleanText()
        self.predictor = Predictor(ScriptedChatModel("gpt-4o-mini", answer="positive"))

    def forward(self, text: str) -> str:
        return self.predictor(f"Analyze sentiment: {self.clean(text)}")


result = SentimentAnalyzer()("I   love this   product!")
print(f"result: {result}")

# Send what is pending, then look the trace up through the REST API.
observer.flush()
trace = wait_for_trace(observer.url, "Sentiment Analyzer", min_spans=5)
print(f"trace {trace['trace_id']}: {trace['span_count']} spans, {trace['total_tokens']} tokens")
for span in trace["spans"]:
    print(f"  span: {span['name']}")
print(f"view it at {observer.trace_url(trace['trace_id'])}")

observer.stop()
