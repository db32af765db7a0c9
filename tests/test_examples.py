"""Every example in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: The examples import this checkout's package, whatever else is installed.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def run_example(name: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _number(pattern: str, output: str) -> int:
    match = re.search(pattern, output)
    assert match is not None, pattern
    return int(match.group(1))


def test_basic_usage(tmp_path: Path) -> None:
    output = run_example("basic_usage.py", tmp_path)
    assert "live: 400 calls" in output
    # The live p95 (a sketch) is within 1 % of the exact one, before rounding to ms.
    live_p95 = _number(r"live: .* p95 (\d+) ms", output)
    exact_p95 = _number(r"final: .* p95 (\d+) ms", output)
    assert abs(live_p95 - exact_p95) <= 0.01 * exact_p95 + 1
    assert "pause_count=1" in output
    assert "final: 800 events" in output
    assert "{'altar.tool.start': 400, 'altar.tool.stop': 400}" in output
    csv_files = list((tmp_path / "exports").glob("basic_usage_*.csv"))
    assert len(csv_files) == 1
    lines = csv_files[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 801  # header + every collected event


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_runs(name: str, tmp_path: Path) -> None:
    run_example(name, tmp_path)


def test_ab_testing(tmp_path: Path) -> None:
    output = run_example("ab_testing.py", tmp_path)
    assert "control  : 200 requests" in output
    assert "treatment: 200 requests" in output
    assert "treatment vs control: latency -" in output  # the shorter prompt is faster
    assert "cost -" in output
    (csv_file,) = (tmp_path / "exports").glob("experiments_*.csv")
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 401  # header + both arms


def test_custom_events(tmp_path: Path) -> None:
    output = run_example("custom_events.py", tmp_path)
    assert "causal trace: 5 decisions" in output
    assert "        - use 4 hits as context" in output  # four levels deep in the tree
    assert "'altar.tool.exception': 1" in output  # the wildcard catches exceptions too
    assert "failed tool call: kind=TimeoutError" in output
    assert "'hedging.request.duplicated': 1" in output
    assert "hedged request won by the duplicate in 420 ms" in output
    assert "myapp.*: {'myapp.cache.hit': 2, 'myapp.cache.miss': 1, 'myapp.retrieval.docs': 1}" in (
        output
    )
    standard = next(line for line in output.splitlines() if line.startswith("standard:"))
    assert "altar.tool.exception" not in standard
    assert "myapp" not in standard


def test_threads(tmp_path: Path) -> None:
    output = run_example("threads.py", tmp_path)
    assert "threads: 200 calls from 8 threads" in output
    assert "'req_llm.request.start': 200" in output
    events = output.split("events: ", 1)[1]
    stops = int(events.split("'req_llm.request.stop': ", 1)[1].split(",")[0].rstrip("}"))
    exceptions = int(events.split("'req_llm.request.exception': ", 1)[1].split("}")[0])
    assert stops + exceptions == 200
    assert f"answered {stops}," in output


def _drained(output: str) -> int:
    (line,) = [line for line in output.splitlines() if line.startswith("drained ")]
    return int(line.split()[1])


def test_agent_service_stops_itself_with_sigterm(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "agent_service.py"),
            "--run-for",
            "1",
            "--report-every",
            "0.2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ready: pid ")
    assert "[live] " in result.stdout
    assert "received SIGTERM" in result.stdout
    drained = _drained(result.stdout)
    assert drained > 0
    (csv_file,) = (tmp_path / "exports").glob("agent_service_*.csv")
    assert len(csv_file.read_text(encoding="utf-8").splitlines()) == drained + 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_agent_service_drains_on_sigint(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "agent_service.py"), "--run-for", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # the signal receiver is open once this is printed
        assert ready.startswith("ready: pid "), ready
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert "received SIGINT" in stdout
    assert _drained(stdout) > 0
    assert "Traceback" not in stderr


def test_fastapi_service_demo(tmp_path: Path) -> None:
    output = run_example("fastapi_service.py", tmp_path)
    assert output.startswith("listening on http://127.0.0.1:")
    # 20 questions: 2310 tokens priced by the model each question went to.
    assert "served 20 questions: mean " in output
    assert "2310 tokens, $0.0812" in output
    events = r'^telemetry_actors_events_total\{.*experiment_name="fastapi-service"\} 20\.0$'
    assert re.search(events, output, re.MULTILINE)
    assert output.endswith("stopped\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_fastapi_service_over_real_http(tmp_path: Path) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from telemetry_actors import BUILTIN_PRICING

    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "fastapi_service.py"), "--run-for", "0", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("listening on http://127.0.0.1:"), ready
        base_url = ready.split()[-1]
        questions = ["hi", "what is an actor", "why is the sky blue on a summer afternoon"]
        questions += ["a b c d e f g h", "ok"]
        with httpx.Client(base_url=base_url, timeout=10) as client:
            answers = [
                client.post("/ask", params={"question": question}).json() for question in questions
            ]
            (experiment,) = client.get("/experiments").json()
            metrics = client.get(f"/experiments/{experiment['id']}/metrics").json()
            scrape = client.get("/metrics").text
            missing = client.get("/experiments/0123456789abcdef/metrics")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert "received SIGINT" in stdout
    assert stdout.endswith("stopped\n")
    assert missing.status_code == 404

    assert [answer["model"] for answer in answers] == [
        "gpt-3.5-turbo", "gpt-3.5-turbo", "gpt-4", "gpt-4", "gpt-3.5-turbo",
    ]  # fmt: skip
    prompt = sum(answer["tokens"]["prompt"] for answer in answers)
    completion = sum(answer["tokens"]["completion"] for answer in answers)
    cost = 0.0
    for answer in answers:
        per_input, per_output = BUILTIN_PRICING[answer["model"]]
        cost += answer["tokens"]["prompt"] * per_input / 1e6
        cost += answer["tokens"]["completion"] * per_output / 1e6
    assert metrics["summary"]["total_events"] == 5
    assert metrics["events"] == {"service.llm.stop": 5}
    assert (metrics["tokens"]["total_prompt"], metrics["tokens"]["total_completion"]) == (
        prompt,
        completion,
    )
    assert metrics["cost"]["total"] == pytest.approx(cost, rel=1e-12)
    assert metrics["latency"]["count"] == 5
    assert metrics["latency"]["min"] >= 2.0  # the "LLM" sleeps at least 2 ms
    assert metrics["reliability"]["success_rate"] == 1.0

    samples = {
        sample.name: sample
        for family in text_string_to_metric_families(scrape)
        for sample in family.samples
        if sample.labels.get("experiment_id") == experiment["id"]
    }
    assert samples["telemetry_actors_events_total"].value == 5.0
    assert samples["telemetry_actors_errors_total"].value == 0.0
    assert samples["telemetry_actors_cost_usd_total"].value == pytest.approx(cost, rel=1e-12)
    assert samples["telemetry_actors_latency_milliseconds_count"].value == 5.0
    assert samples["telemetry_actors_latency_milliseconds_sum"].value == pytest.approx(
        metrics["latency"]["mean"] * 5, rel=1e-9
    )


def test_openai_client_records_the_canned_usage(tmp_path: Path) -> None:
    output = run_example("openai_client.py", tmp_path)
    assert "calls: 10 (9 answered, 1 rate limited)" in output
    assert "events: {'llm.chat.stop': 9, 'llm.chat.exception': 1}" in output
    # Nine answers of the canned usage: 24 prompt and 7 completion tokens each.
    assert "tokens: prompt 216, completion 63" in output
    match = re.search(r"cost_usd=(\S+) over 9 priced calls", output)
    assert match is not None
    expected = 9 * (24 * 0.15 / 1e6 + 7 * 0.60 / 1e6)  # gpt-4o-mini-2024-07-18's price
    assert float(match.group(1)) == pytest.approx(expected, rel=1e-12)
    assert "success rate 0.9" in output
