"""The original README's Quick Start, Manual Setup and CLI sections, followed as a new user would.

Substitutions (the only ones): port 4321 becomes a free port (tests never bind fixed ports), and
`Predictor(...)` gets `ScriptedChatModel`, an offline model implementing msgflux's chat-model
interface, where the README leaves a real LLM to the reader. Programs run from a temporary
working directory, so the default data dir `./msgtrace-data` lives there.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from msgtrace.integration import free_port
from tests.integration.conftest import by_name, clean_env, find_trace, run_program

pytest.importorskip("msgflux")

QUICK_START = '''
import sys
from msgtrace.integration import quick_start

# Start everything with one line
observer = quick_start(port=int(sys.argv[1]))

# Your msgflux code here
from msgflux.nn import Predictor
from msgtrace.demo_model import ScriptedChatModel
predictor = Predictor(ScriptedChatModel("gpt-4o-mini", answer="positive"), name="sentiment_analyzer")
message = "Analyze sentiment: I love this product!"
result = predictor(message)
print("RESULT", result)

# Stop when done
observer.stop()
'''

MANUAL_SETUP = '''
import sys
from msgtrace import start_observer, configure_msgflux_telemetry

# Start the observer
observer = start_observer(port=int(sys.argv[1]))

# Configure msgflux
configure_msgflux_telemetry(
    server=observer,
    enable_state_dict=True,  # Capture module states
    enable_platform=True,     # Capture platform info
)

# Your msgflux code here
import msgflux.nn as nn

class Greeter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("greeting", "hello")
    def forward(self, name):
        return f"{self.greeting} {name}"

print("RESULT", Greeter()("world"))

observer.stop()
'''


def _stored_trace(server_factory: Any, data_dir: Path, root_name: str, min_spans: int) -> dict[str, Any]:
    """Start a fresh server on the data the program left behind and read the trace back."""
    server = server_factory(data_dir=data_dir)
    return find_trace(server.url, root_name, min_spans)


def test_quick_start(server_factory: Any, tmp_path: Path) -> None:
    proc = run_program(QUICK_START, tmp_path, str(free_port()))
    assert "RESULT positive" in proc.stdout
    # observer.stop() flushed and stopped the server; everything is on disk in ./msgtrace-data.
    trace = _stored_trace(server_factory, tmp_path / "msgtrace-data", "Sentiment Analyzer", 3)
    spans = by_name(trace)
    assert spans["Sentiment Analyzer"][0]["attributes"]["span.type"] == "flow"
    assert spans["chat gpt-4o-mini"][0]["attributes"]["gen_ai.usage.total_tokens"] > 0


def test_manual_setup(server_factory: Any, tmp_path: Path) -> None:
    proc = run_program(MANUAL_SETUP, tmp_path, str(free_port()))
    assert "RESULT hello world" in proc.stdout
    trace = _stored_trace(server_factory, tmp_path / "msgtrace-data", "Greeter", 1)
    root = by_name(trace)["Greeter"][0]
    assert "module.state_dict" in root["attributes"], "enable_state_dict=True captures the state"
    assert root["resource_attributes"]["platform.system"], "enable_platform=True adds platform.*"
    assert root["resource_attributes"]["python.version"]


def test_cli_section(server_factory: Any, tmp_path: Path) -> None:
    """`msgtrace start`, configure_msgflux_telemetry(port=...), then stats, list and show."""
    server = server_factory(data_dir=tmp_path / "msgtrace-data")
    tag = uuid.uuid4().hex[:6]
    program = f'''
import sys
from msgtrace import configure_msgflux_telemetry
configure_msgflux_telemetry(port=int(sys.argv[1]))

import msgflux.nn as nn
class CliFlow{tag}(nn.Module):
    def forward(self, x):
        return x

CliFlow{tag}()(1)
from msgtrace.integration import Observer
Observer(url=f"http://127.0.0.1:{{sys.argv[1]}}", port=int(sys.argv[1]), host="127.0.0.1").stop()
'''
    run_program(program, tmp_path, str(server.port))
    from msgflux.utils.convert import convert_camel_snake_to_title

    trace = find_trace(server.url, convert_camel_snake_to_title(f"CliFlow{tag}"), 1)

    def cli(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "msgtrace", *args], cwd=tmp_path,
                              env=clean_env(COLUMNS="200"), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"msgtrace {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    assert "1" in cli("stats")
    assert trace["trace_id"][:12] in cli("list", "--limit", "20")
    shown = cli("show", trace["trace_id"][:12])
    assert convert_camel_snake_to_title(f"CliFlow{tag}") in shown
