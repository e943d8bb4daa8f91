"""End to end: start msgtrace, configure msgflux, run several workflows (one of them fails),
query them back through the REST API and print where to look in the UI.

    python examples/e2e_example.py [--port 4321] [--data-dir ./msgtrace-data] [--serve]

With --serve the server keeps running until Ctrl-C so you can explore the traces.
"""

# No `from __future__ import annotations` here: msgflux builds tool schemas from real type hints.
import time

import httpx
from _common import parse_args, wait_for_trace

from msgtrace import configure_msgflux_telemetry, start_observer

args = parse_args(__doc__ or "", serve_flag=True)

observer = start_observer(port=args.port, data_dir=args.data_dir)
configure_msgflux_telemetry(server=observer, service_name="e2e-example", enable_state_dict=True)
print(f"msgtrace is running at {observer.url}")

import msgflux.nn as nn  # noqa: E402
from msgflux.nn import Agent, Predictor  # noqa: E402

from msgtrace.demo_model import ScriptedChatModel  # noqa: E402


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 24°C in {city}"


class TravelPlanner(nn.Module):
    """Asks an agent (with a weather tool) and then a summarizer."""

    def __init__(self) -> None:
        super().__init__()
        self.agent = Agent(
            name="travel_agent",
            model=ScriptedChatModel("claude-3-5-sonnet", answer="Plan:", price_per_mtok=(3.0, 15.0),
                                    provider_name="anthropic"),
            tools=[get_weather],
            system_message="You plan short trips.",
        )
        self.summarize = Predictor(ScriptedChatModel("gpt-4o-mini", answer="In short: go."))

    def forward(self, request: str) -> str:
        return self.summarize(f"Summarize: {self.agent(request)}")


class FlakyLookup(nn.Module):
    def forward(self, key: str) -> str:
        raise KeyError(key)


planner = TravelPlanner()
for city in ("Lisbon", "Kyoto", "Natal"):
    print(f"{city}: {planner(f'A weekend in {city}')}")
try:
    FlakyLookup()("missing-key")
except KeyError:
    print("FlakyLookup failed (as intended): its trace is marked as an error")

observer.flush()
trace = wait_for_trace(observer.url, "Travel Planner", min_spans=9)
wait_for_trace(observer.url, "Flaky Lookup", min_spans=1)
listing = httpx.get(f"{observer.url}/api/v1/traces", params={"limit": 100}).json()
errors = httpx.get(f"{observer.url}/api/v1/traces", params={"has_errors": "true"}).json()
stats = httpx.get(f"{observer.url}/api/v1/stats").json()
print(f"traces stored: {listing['total']}, with errors: {errors['total']}")
print(f"spans: {stats['total_spans']}, tokens: {stats['tokens']['total']}")
print(f"latest travel plan: {trace['span_count']} spans, models {', '.join(trace['models'])}")
print(f"open the UI: {observer.url}")
print(f"one trace: {observer.trace_url(trace['trace_id'])}")

if args.serve:
    print("serving until Ctrl-C")
    try:
        while observer.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
observer.stop()
