"""Benchmark driver: provider + three apps on loopback, sign in, load with wrk, record results.

Run through bench/run, which installs what this needs. Everything listens on 127.0.0.1 only,
every load is bounded in time, and every process started here is stopped at the end.
Secrets (session keys, client secrets, cookies) are generated per run and never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOGS = BENCH / ".logs"

# What each app calls its session cookie, its sign-in route and its callback route: the peer
# apps keep their SDK's own routes.
APPS = {
    "actix": {
        "label": "this app (actix-web, release)",
        "cookie": "logto-session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "flask": {
        "label": "Flask + logto (PyPI), gunicorn",
        "cookie": "session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "express": {
        "label": "Express + @logto/express",
        "cookie": "connect.sid",
        "sign_in": "/logto/sign-in",
        "callback": "/logto/sign-in-callback",
    },
}

# (name, path key, signed in?) in the order they run. The sign-in redirect is loaded as a
# signed-out visitor would hit it: with Express's server-side sessions, starting a sign-in on the
# signed-in session would sign it out (the SDK clears the tokens when a sign-in starts).
LOADS = [
    ("healthz", "/healthz", False),
    ("home", "/", True),
    ("profile", "/profile", True),
    ("sign-in", None, False),
]

SIGNED_IN_MARKER = "Signed in as"

# This app's JSON API (`GET /api/me`), loaded with a machine-to-machine access token for it: the
# cost of verifying an ES384 access token on every request, next to /healthz.
API_RESOURCE = "https://api.bench.test"
API_SCOPE = "read:messages"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------
# Memory: peak resident set of a server and all its descendants (gunicorn's workers).


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all but idle and iowait), all cores summed."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def children_cpu_s() -> float:
    """CPU seconds of this driver's finished children (wrk)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Samples the summed VmRSS of a process tree every 50 ms and keeps each process's VmHWM,
    so a worker that exits before the end still counts."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_sum_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.05)

    def sample(self) -> None:
        pids = descendants(self.pid)
        self.peak_sum_kb = max(self.peak_sum_kb, sum(status_kb(p, "VmRSS") for p in pids))
        for p in pids:
            self.hwm_kb[p] = max(self.hwm_kb.get(p, 0), status_kb(p, "VmHWM"))

    def stop(self) -> dict:
        self.sample()
        self._stop.set()
        self._thread.join()
        return {
            "peak_rss_kb": self.peak_sum_kb,
            "sum_vmhwm_kb": sum(self.hwm_kb.values()),
            "processes": len(self.hwm_kb),
        }


# ---------------------------------------------------------------------------------------------
# Signing in: plays the browser's part against the provider's plain HTML sign-in form.


class FormFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = None

    def handle_starttag(self, tag, attrs):
        if tag == "form" and self.action is None:
            self.action = dict(attrs).get("action")


def sign_in(base: str, app: dict, username: str, password: str) -> requests.Session:
    """Signs in through the app's own sign-in route; returns the client holding the cookie."""
    http = requests.Session()
    response = http.get(base + app["sign_in"], allow_redirects=False, timeout=30)
    form_sent = False
    for _ in range(20):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            response = http.get(target, allow_redirects=False, timeout=30)
            if urlparse(target).path == app["callback"]:
                # The app answered its callback; what follows is the app's own redirect home.
                if response.status_code >= 400:
                    raise RuntimeError(f"callback answered {response.status_code}")
                return http
            continue
        if response.status_code != 200 or form_sent:
            raise RuntimeError(f"sign-in stopped at {urlparse(response.url).path}: {response.status_code}")
        finder = FormFinder()
        finder.feed(response.text)
        if not finder.action:
            raise RuntimeError("no sign-in form on the provider's page")
        response = http.post(
            urljoin(response.url, finder.action),
            data={"username": username, "password": password},
            allow_redirects=False,
            timeout=30,
        )
        form_sent = True
    raise RuntimeError("sign-in took too many hops")


# ---------------------------------------------------------------------------------------------
# Loads


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, header: str | None, duration: int, connections: int, threads: int) -> dict:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if header:
        args += ["-H", header]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=duration + 60).stdout
    result = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result["rps"] = float(m.group(1))
    if m := re.search(r"^\s+50%\s+(\S+)", out, re.M):
        result["p50_ms"] = round(to_ms(m.group(1)), 3)
    if m := re.search(r"^\s+99%\s+(\S+)", out, re.M):
        result["p99_ms"] = round(to_ms(m.group(1)), 3)
    if m := re.search(r"(\d+) requests in", out):
        result["requests"] = int(m.group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    result["errors"] = errors
    if result["rps"] is None:
        raise RuntimeError(f"wrk printed no result for {urlparse(url).path}: {out[-400:]}")
    return result


# ---------------------------------------------------------------------------------------------
# Processes


class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, name, args, env=None, cwd=None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        # Each server's stderr goes to bench/.logs/<name>.log (ignored by git), read on failure.
        LOGS.mkdir(exist_ok=True)
        with open(LOGS / f"{name}.log", "w") as err:
            p = subprocess.Popen(
                args,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=err,
                start_new_session=True,
            )
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                # Each was started in its own process group: ending the group stops gunicorn's
                # workers too, and nothing else.
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
    }


def versions() -> dict:
    def cmd(args):
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:  # a missing tool only leaves its version out
            return None

    from importlib.metadata import version

    def npm_version(name):
        try:
            path = BENCH / "express" / "node_modules" / name / "package.json"
            return json.loads(path.read_text())["version"]
        except OSError:
            return None

    return {
        "rustc": cmd(["rustc", "--version"]),
        "node": cmd(["node", "--version"]),
        "python": platform.python_version(),
        "wrk": cmd(["sh", "-c", "wrk -v 2>&1 | head -1"]),
        "logto (PyPI)": version("logto"),
        "flask": version("flask"),
        "gunicorn": version("gunicorn"),
        "@logto/express": npm_version("@logto/express"),
        "express": npm_version("express"),
        "express-session": npm_version("express-session"),
    }


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--apps", default="actix,flask,express")
    parser.add_argument("--no-write", action="store_true", help="print results, write no files")
    opts = parser.parse_args()
    apps = [a for a in opts.apps.split(",") if a]

    cores = os.cpu_count() or 1
    # gunicorn's documented starting point for sync workers: (2 x cores) + 1.
    flask_workers = 2 * cores + 1

    load1 = float(open("/proc/loadavg").read().split()[0])
    if load1 > cores / 2:
        log(f"warning: load average {load1} on {cores} cores before starting; other work will skew the figures")

    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="logto-bench-"))
    try:
        ports = {name: free_port() for name in apps}
        bases = {name: f"http://127.0.0.1:{ports[name]}" for name in apps}
        clients = {}
        for name in apps:
            clients[name] = {
                "client_id": f"bench-{name}",
                "client_secret": secrets.token_urlsafe(32),
                "redirect_uris": [bases[name] + APPS[name]["callback"]],
                "post_logout_redirect_uris": [bases[name] + "/"],
            }
        config_file = tmp / "op.json"
        m2m = {"client_id": "bench-m2m", "client_secret": secrets.token_urlsafe(32), "grant_types": ["client_credentials"]}
        config_file.write_text(
            json.dumps(
                {
                    "clients": list(clients.values()) + [m2m],
                    "resources": {API_RESOURCE: {"scopes": [API_SCOPE]}},
                }
            )
        )
        config_file.chmod(0o600)

        log("starting the provider")
        op = procs.start(
            "provider",
            ["node", str(ROOT / "tests/op/server.js"), "--port", "0", "--ready-json", "--config", str(config_file)],
            stdout=subprocess.PIPE,
        )
        ready = json.loads(op.stdout.readline())
        endpoint = f"http://127.0.0.1:{ready['port']}"

        servers = {}
        for name in apps:
            env = {
                "LOGTO_ENDPOINT": endpoint,
                "LOGTO_APP_ID": clients[name]["client_id"],
                "LOGTO_APP_SECRET": clients[name]["client_secret"],
                "APP_BASE_URL": bases[name],
                "HOST": "127.0.0.1",
                "PORT": str(ports[name]),
                "SESSION_SECRET": secrets.token_urlsafe(64),
                "RUST_LOG": "warn",
                "NODE_ENV": "production",
            }
            if name == "actix":
                args = [str(ROOT / "target/release/logto-actix")]
                env["LOGTO_API_RESOURCE"] = API_RESOURCE
                env["LOGTO_API_REQUIRED_SCOPES"] = API_SCOPE
                cwd = tmp  # no stray .env from the repo's working directory
            elif name == "flask":
                args = [
                    str(BENCH / ".venv/bin/gunicorn"),
                    "--workers", str(flask_workers),
                    "--worker-class", "sync",
                    "--bind", f"127.0.0.1:{ports[name]}",
                    "--log-level", "warning",
                    "app:app",
                ]
                cwd = BENCH / "flask"
            else:
                args = ["node", "app.js"]
                cwd = BENCH / "express"
            log(f"starting {name} on port {ports[name]}")
            servers[name] = procs.start(name, args, env=env, cwd=cwd)
        for name in apps:
            wait_http(bases[name] + "/healthz")

        samplers = {name: RssSampler(servers[name].pid) for name in apps}

        cookies, cookie_sizes = {}, {}
        for name in apps:
            http = sign_in(bases[name], APPS[name], "demo", "demo-password")
            page = http.get(bases[name] + "/", timeout=30).text
            if SIGNED_IN_MARKER not in page:
                raise RuntimeError(f"{name}: the home page does not show a signed-in user after sign-in")
            # Each app signs in with its own client, so the cookie name alone finds it.
            value = http.cookies.get(APPS[name]["cookie"])
            if value is None:
                raise RuntimeError(f"{name}: no {APPS[name]['cookie']} cookie after sign-in")
            cookies[name] = f"{APPS[name]['cookie']}={value}"
            cookie_sizes[name] = len(cookies[name])
            log(f"{name}: signed in; session cookie {cookie_sizes[name]} bytes")

        headers = {name: {load: f"Cookie: {cookies[name]}" if signed_in else None for load, _, signed_in in LOADS} for name in apps}
        loads = {name: list(LOADS) for name in apps}
        if "actix" in apps:
            token = requests.post(
                endpoint + "/oidc/token",
                auth=(m2m["client_id"], m2m["client_secret"]),
                data={"grant_type": "client_credentials", "resource": API_RESOURCE, "scope": API_SCOPE},
                timeout=30,
            ).json()["access_token"]
            me = requests.get(bases["actix"] + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if me.status_code != 200 or me.json().get("client_id") != m2m["client_id"]:
                raise RuntimeError(f"actix: /api/me refused the machine-to-machine token ({me.status_code})")
            loads["actix"].append(("api-me", "/api/me", False))
            headers["actix"]["api-me"] = f"Authorization: Bearer {token}"

        results = []
        for name in apps:
            for load, path, signed_in in loads[name]:
                path = path or APPS[name]["sign_in"]
                cookie = cookies[name] if signed_in else None
                log(f"{name} {load} ({path}): {opts.duration} s, {opts.connections} connections")
                # CPU bookkeeping: what the server used per request (steady whatever else runs),
                # and how much CPU processes outside this benchmark took meanwhile (on a shared
                # machine they lower req/s and raise p99).
                ours = [servers[name].pid, op.pid]
                app0, ours0, busy0, wrk0 = tree_cpu_s(servers[name].pid), sum(map(tree_cpu_s, ours)), machine_busy_s(), children_cpu_s()
                started = time.monotonic()
                r = run_wrk(bases[name] + path, headers[name][load], opts.duration, opts.connections, opts.threads)
                elapsed = time.monotonic() - started
                app_cpu = tree_cpu_s(servers[name].pid) - app0
                other = (machine_busy_s() - busy0) - (sum(map(tree_cpu_s, ours)) - ours0) - (children_cpu_s() - wrk0)
                r["server_cpu_us_per_request"] = round(app_cpu * 1e6 / max(r["requests"], 1), 1)
                r["other_processes_cores"] = round(max(other, 0.0) / elapsed, 2)
                if signed_in:
                    # The session must still be signed in after the load: otherwise we measured a
                    # signed-out page.
                    page = requests.get(bases[name] + path, headers={"Cookie": cookie}, timeout=30)
                    if SIGNED_IN_MARKER not in page.text and "Your profile" not in page.text:
                        raise RuntimeError(f"{name}: {path} no longer signed in after the load")
                results.append({"app": name, "load": load, "path": path, **r})
                log(
                    f"  {r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}, "
                    f"server {r['server_cpu_us_per_request']} us CPU/req, other processes {r['other_processes_cores']} cores"
                )

        memory = {name: samplers[name].stop() for name in apps}
    except Exception:
        for f in sorted(LOGS.glob("*.log")):
            tail = f.read_text(errors="replace").splitlines()[-15:]
            if tail:
                log(f"last lines of {f.name}:\n  " + "\n  ".join(tail))
        raise
    finally:
        procs.stop_all()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()

    now = dt.datetime.now(dt.timezone.utc)
    report = {
        "date": now.strftime("%Y-%m-%d"),
        "time_utc": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "duration_s": opts.duration,
            "connections": opts.connections,
            "wrk_threads": opts.threads,
            "flask_server": f"gunicorn, {flask_workers} sync workers ((2 x cores) + 1)",
            "express_server": "node app.js (one process), express-session MemoryStore",
            "actix_server": "target/release/logto-actix, RUST_LOG=warn, default workers (one per core)",
            "note": "wrk, the apps and the provider share the same cores; everything on 127.0.0.1",
        },
        "apps": {name: APPS[name]["label"] for name in apps},
        "results": results,
        "memory": memory,
        "cookie_bytes": cookie_sizes,
    }
    report["targets"] = targets(report)
    markdown = render_markdown(report)
    print(markdown)
    if not opts.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{report['date']}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "latest.md").write_text(markdown)
        log(f"wrote bench/results/{report['date']}.json and bench/results/latest.md")
    return 0


def rps(report: dict, app: str, load: str) -> float | None:
    for r in report["results"]:
        if r["app"] == app and r["load"] == load:
            return r["rps"]
    return None


def targets(report: dict) -> list[dict]:
    out = []

    def add(name, value, goal, ok):
        out.append({"target": name, "value": value, "goal": goal, "met": bool(ok)})

    home, health = rps(report, "actix", "home"), rps(report, "actix", "healthz")
    if home and health:
        add("home / healthz throughput", round(home / health, 3), ">= 0.60", home / health >= 0.60)
    for peer, goal in (("flask", 10), ("express", 3)):
        other = rps(report, peer, "home")
        if home and other:
            add(f"home vs {peer}", round(home / other, 1), f">= {goal}x", home / other >= goal)
    for r in report["results"]:
        if r["app"] == "actix" and r["load"] in ("home", "profile", "sign-in"):
            add(f"p99 {r['load']} at {report['settings']['connections']} connections", r["p99_ms"], "< 5 ms", r["p99_ms"] < 5)
    if "actix" in report["memory"]:
        mb = report["memory"]["actix"]["peak_rss_kb"] / 1024
        add("peak RSS under load (MB)", round(mb, 1), "< 30 MB", mb < 30)
    if "actix" in report["cookie_bytes"]:
        size = report["cookie_bytes"]["actix"]
        add("session cookie (bytes)", size, "<= 2560", size <= 2560)
    return out


def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"## Benchmark results, {report['date']}",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}. "
        f"wrk {report['settings']['wrk_threads']} threads, {report['settings']['connections']} connections, "
        f"{report['settings']['duration_s']} s per load, all on 127.0.0.1 (wrk, apps and provider share the cores).",
        "",
        "| app | page | req/s | p50 ms | p99 ms | errors | server CPU µs/req | other load (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['app']} | {r['load']} `{r['path']}` | {r['rps']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} "
            f"| {r['server_cpu_us_per_request']} | {r['other_processes_cores']} |"
        )
    lines += ["", "| app | server | peak RSS under load (MB) | session cookie after sign-in (bytes) |", "|---|---|---:|---:|"]
    for name, label in report["apps"].items():
        mem = report["memory"][name]
        procs = f", {mem['processes']} processes" if mem["processes"] > 1 else ""
        lines.append(f"| {name} | {label}{procs} | {mem['peak_rss_kb'] / 1024:.1f} | {report['cookie_bytes'][name]} |")
    if report["targets"]:
        lines += ["", "| target (this app) | value | goal | met |", "|---|---:|---|---|"]
        for t in report["targets"]:
            lines.append(f"| {t['target']} | {t['value']} | {t['goal']} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
