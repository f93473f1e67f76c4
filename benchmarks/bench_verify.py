#!/usr/bin/env python3
"""Speed figures for verify.py, printed as ratios from one run (make bench).

1. start-up: `verify.py --help` against a bare `python3 -c pass` (goal: within 25 ms);
2. time to verdict against a loopback server that adds 100 ms to every answer, against a minimal
   urllib script sending the same request (goal: within 1.15x), and against one curl call;
3. wrong_region: how many probe round trips it costs (goal: about 2, not 5);
4. black hole: how long past --timeout a run against a silent host takes (goal: under 1 s);
5. hostile input: how the time of the .env parser, the redactor and the OSS error reader grows when
   the input doubles (goal: about 2x, i.e. linear; a backtracking regex shows 4x).
Uses the tests' loopback fakes; nothing leaves the machine.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes.blackhole import BlackHole  # noqa: E402
from fakes.ca import CertAuthority  # noqa: E402
from fakes.dashscope import FakeDashScope  # noqa: E402
from fakes.proxy import ConnectProxy  # noqa: E402

VERIFY = str(ROOT / "scripts" / "verify.py")
KEY = "sk-bench0000000000000000000000000000"
LATENCY = 0.1
RUNS = 7

MINIMAL_URLLIB = """
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(request, timeout=10) as response:
    response.read()
"""


def environment(extra=None):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir(), "DASHSCOPE_API_KEY": KEY}
    env.update(extra or {})
    return env


def timed(command, env=None, runs=RUNS):
    """Median wall time of a command in seconds (one warm-up run first)."""
    samples = []
    for index in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, env=env or environment(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir(), check=False)
        if index:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def startup():
    bare = timed([sys.executable, "-c", "pass"], runs=15)
    helped = timed([sys.executable, VERIFY, "--help"], runs=15)
    return bare, helped


def time_to_verdict():
    with FakeDashScope(latency=LATENCY) as server:
        server.accept(KEY)
        url = server.url + "/api/v1/models?page_no=1&page_size=1"
        ours = timed([sys.executable, VERIFY, "--no-save", "--json", "--base-url", server.url])
        floor = timed([sys.executable, "-c", MINIMAL_URLLIB, url, KEY])
        curl = None
        if shutil.which("curl"):
            curl = timed(["curl", "-s", "-o", os.devnull, "-H", "Authorization: Bearer " + KEY, url])
    return ours, floor, curl


def wrong_region_round_trips(folder):
    ca = CertAuthority(folder)
    timings = {}
    for latency in (0.0, 0.3):
        with FakeDashScope(tls_context=ca.server_context(), latency=latency) as server, \
                ConnectProxy(upstream=server) as proxy:
            server.accept(KEY, region="intl")
            env = environment({"HTTPS_PROXY": proxy.url, "https_proxy": proxy.url,
                               "SSL_CERT_FILE": str(ca)})
            timings[latency] = timed([sys.executable, VERIFY, "--no-save", "--json"], env=env, runs=3)
    return (timings[0.3] - timings[0.0]) / 0.3


def black_hole_overshoot(timeout=2.0):
    with BlackHole() as hole:
        started = time.perf_counter()
        subprocess.run([sys.executable, VERIFY, "--no-save", "--timeout", str(timeout), "--base-url", hole.url],
                       env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - started - timeout


def _best_of(function, argument, runs=3):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function(argument)
        samples.append(time.perf_counter() - started)
    return min(samples)


def growth(function, make_input, size):
    """Time for an input of 2*size over time for size: about 2 when linear."""
    return _best_of(function, make_input(2 * size)) / _best_of(function, make_input(size))


def hostile_inputs():
    sys.path.insert(0, str(ROOT / "scripts"))
    from qianwen_auth.envfile import parse_env_text
    from qianwen_auth.oss_answer import parse_error
    from qianwen_auth.probe import Exchange
    from qianwen_auth.redact import redact
    return [
        (".env blank run", growth(parse_env_text, lambda n: "A=x" + " " * n + "y\n", 100000)),
        (".env bad lines", growth(parse_env_text, lambda n: "a b\n" * n, 50000)),
        ("redact echoes", growth(lambda text: redact(text, [KEY]), lambda n: (KEY + " ") * n, 5000)),
        ("redact fields", growth(redact, lambda n: "authorization:" * n, 20000)),
        ("OSS error tags", growth(lambda body: parse_error(Exchange("PUT", "u", status=500, body=body)),
                                  lambda n: b"<Error>" + b"<Code><Message><RequestId>" * n, 10000)),
    ]


def main():
    print("verify.py benchmark ({} on {} cores; medians of {} runs)".format(
        sys.version.split()[0], os.cpu_count(), RUNS))
    bare, helped = startup()
    print("start-up      --help {:.0f} ms vs python -c pass {:.0f} ms: +{:.0f} ms (goal: +25 ms or less)"
          .format(helped * 1000, bare * 1000, (helped - bare) * 1000))
    ours, floor, curl = time_to_verdict()
    print("verdict       {:.0f} ms vs minimal urllib script {:.0f} ms: {:.2f}x (goal: 1.15x or less)"
          .format(ours * 1000, floor * 1000, ours / floor))
    if curl:
        print("              vs one curl call {:.0f} ms: {:.2f}x (reference only)".format(curl * 1000, ours / curl))
    with tempfile.TemporaryDirectory() as folder:
        trips = wrong_region_round_trips(folder)
    print("wrong_region  {:.1f} probe round trips (goal: about 2; one after another would be 4)".format(trips))
    overshoot = black_hole_overshoot()
    print("black hole    ended {:+.2f} s past --timeout 2 (goal: under +1 s)".format(overshoot))
    for name, ratio in hostile_inputs():
        print("hostile input {:<15} doubling the input: {:.1f}x the time (goal: about 2x, linear)".format(
            name, ratio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
