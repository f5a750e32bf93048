"""Benchmark driver: provider + the apps on loopback, sign in, load with wrk, record results.

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
import statistics
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
        "label": "this app (actix-web, release), cookie sessions",
        "cookie": "logto-session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "actix-redis": {
        "label": "this app (actix-web, release), SESSION_STORE=redis",
        "cookie": "logto-session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "axum": {
        "label": "the axum example (examples/logto-axum-example, release), cookie sessions",
        "cookie": "logto-session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "axum-redis": {
        "label": "the axum example (examples/logto-axum-example, release), SESSION_STORE=redis",
        "cookie": "logto-session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "flask": {
        "label": "Flask + logto (PyPI), gunicorn; /api/me: PyJWT PyJWKClient",
        "cookie": "session",
        "sign_in": "/sign-in",
        "callback": "/callback",
    },
    "express": {
        "label": "Express + @logto/express; /api/me: jose jwtVerify + createRemoteJWKSet",
        "cookie": "connect.sid",
        "sign_in": "/logto/sign-in",
        "callback": "/logto/sign-in-callback",
    },
}

# (name, path, kind) in the order they run; kind: "signed-in" (the session cookie), "public" (no
# cookie), "api" (one access token reused), "api-fresh" (the next token of the pool on every
# request), "api-flood" (every token of the pool once, then stop); "-paced" after a kind: the same
# at PACED_RATE requests a second instead of as fast as wrk can. A path of None is the app's
# sign-in route. The sign-in redirect is loaded as a signed-out visitor would hit it: with
# Express's server-side sessions, starting a sign-in on the signed-in session would sign it out
# (the SDK clears the tokens when a sign-in starts).
PAGE_LOADS = [
    ("healthz", "/healthz", "public"),
    ("home", "/", "signed-in"),
    ("profile", "/profile", "signed-in"),
    ("sign-in", None, "public"),
]
API_LOADS = [
    ("api-me", "/api/me", "api"),
    ("api-me-fresh", "/api/me", "api-fresh"),
]
# The fresh-token p99 next to the floor's at a rate both serve with room to spare (a fifth of what
# fresh tokens reach here), so that the queue wrk's 64 connections build at full speed is not all
# the figure says. They run after the flood: the pool's first tokens, which they send, have left
# the verified-token cache by then (it keeps the last ones), as the CPU a request shows.
PACED_RATE = 1000
PACED_LOADS = [
    ("healthz-paced", "/healthz", "public-paced"),
    ("api-me-fresh-paced", "/api/me", "api-fresh-paced"),
]
LOADS = {
    "actix": PAGE_LOADS + API_LOADS + [("api-me-100k", "/api/me", "api-flood"), *PACED_LOADS],
    # The same app with its sessions in Redis: the signed-in page is what changes.
    "actix-redis": [("home", "/", "signed-in")],
    "axum-redis": [("home", "/", "signed-in")],
    # The same web core and client on axum (logto-axum): its floor, its signed-in page, its API.
    "axum": [("healthz", "/healthz", "public"), ("home", "/", "signed-in"), *API_LOADS],
    "flask": PAGE_LOADS + API_LOADS,
    "express": PAGE_LOADS + API_LOADS,
}

# The loads the ratio targets compare, run again in rounds after the others. Their first runs are
# minutes apart, and on a shared machine `/healthz` alone moves by a fifth between runs a minute
# apart; in a round they follow one another seconds apart, and a ratio is judged on the median of
# its rounds.
PAIRED = [("actix", "healthz"), ("actix", "home"), ("actix", "profile"), ("actix-redis", "home")]

SIGNED_IN_MARKER = "Signed in as"

# The API every app protects (`GET /api/me`), with the same checks: signature (ES384, the
# provider's key), issuer, audience, expiry and this scope.
API_RESOURCE = "https://api.bench.test"
API_SCOPE = "read:messages"
# The pool of access tokens: minted by bench/es384's es384-mint with the provider's own signing
# key (the bench makes the key and gives it to the provider), shaped like Logto's
# machine-to-machine tokens for API_RESOURCE.
TOKEN_KID = "bench-es384"
TOKEN_CLIENT_ID = "bench-m2m"
MINT = BENCH / "es384/target/aws_lc_rs/release/es384-mint"


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Waits until `url` answers. With `process`, stops at once when it exits (a missing binary,
    a refused configuration) rather than waiting out `timeout`; the error then ends with the end of
    `log`, which may live in a directory removed on the way out."""

    def log_end() -> str:
        return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited ({process.returncode}) before answering {url}:\n{log_end()}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s\n{log_end()}".rstrip())


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
    """The first form's action, and every named input's value (the forms' CSRF fields)."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        if tag == "input" and attrs.get("name"):
            self.inputs[attrs["name"]] = attrs.get("value") or ""


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


def run_wrk(
    url: str,
    header: str | None,
    duration: int,
    connections: int,
    threads: int,
    tokens: tuple[Path, str] | None = None,
    rate: int | None = None,
) -> dict:
    """One wrk load. `tokens` = (pool file, "cycle" or "once"): every request carries the next
    token of the pool (bench/tokens.lua), each thread its own share of it. `rate`: about that many
    requests a second in all, each connection waiting between its requests (bench/pace.lua)."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if header:
        args += ["-H", header]
    args.append(url)
    env = dict(os.environ)
    if rate:
        # Read by both scripts when wrk loads them: milliseconds between a connection's requests.
        env["WRK_PACE_MS"] = str(max(1, round(connections * 1000 / rate)))
    if tokens:
        args[-1:-1] = ["-s", str(BENCH / "tokens.lua")]
        args += ["--", str(tokens[0]), str(threads), tokens[1]]
    elif rate:
        args[-1:-1] = ["-s", str(BENCH / "pace.lua")]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 120, env=env).stdout
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
# Access tokens: the bench's own signing key, given to the provider, and tokens minted with it.


def b64url_int(value: int, size: int) -> str:
    import base64

    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()


def make_signing_key(directory: Path) -> tuple[Path, dict]:
    """A new P-384 key: its PKCS#8 PEM file (for es384-mint) and its private JWK (for the
    provider, which publishes the public half in its JWKS)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    pem = directory / "signing-key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pem.chmod(0o600)
    numbers = key.private_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-384",
        "x": b64url_int(numbers.public_numbers.x, 48),
        "y": b64url_int(numbers.public_numbers.y, 48),
        "d": b64url_int(numbers.private_value, 48),
        "kid": TOKEN_KID,
        "alg": "ES384",
    }
    return pem, jwk


def mint(pem: Path, issuer: str, count: int, audience: str = API_RESOURCE, scope: str = API_SCOPE, lifetime: int = 3600) -> list[str]:
    out = subprocess.run(
        [str(MINT), str(pem), TOKEN_KID, issuer, audience, scope, TOKEN_CLIENT_ID, str(lifetime), str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()
    if len(out) != count:
        raise RuntimeError(f"es384-mint gave {len(out)} tokens, not {count}")
    return out


def check_api(name: str, base: str, good: str, refused: dict[str, str]) -> dict:
    """The app answers the good token with who it is for, and refuses each bad one: the same
    checks everywhere, or the comparison would be unfair."""
    me = requests.get(base + "/api/me", headers={"Authorization": f"Bearer {good}"}, timeout=30)
    if me.status_code != 200 or me.json().get("client_id") != TOKEN_CLIENT_ID:
        raise RuntimeError(f"{name}: /api/me refused a valid token ({me.status_code})")
    statuses = {}
    for why, token in refused.items():
        answer = requests.get(base + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if answer.status_code not in (401, 403):
            raise RuntimeError(f"{name}: /api/me accepted a token with {why} ({answer.status_code})")
        statuses[why] = answer.status_code
    return statuses


def start_redis(procs: "Processes", port: int) -> subprocess.Popen:
    """A throw-away redis-server on loopback: no persistence, gone when the bench stops it."""
    redis = procs.start(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return redis
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("redis-server did not answer")


# ---------------------------------------------------------------------------------------------
# Processes


def spawn(args, env=None, cwd=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """Starts `args` with this environment plus `env`, in a process group of its own: stopping the
    group stops its children too (gunicorn's workers), and nothing else."""
    return subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def stop_groups(procs: list[subprocess.Popen], timeout: float = 10) -> None:
    """Stops the groups of `procs`, the last started first: SIGCONT (in case one was stopped) and
    SIGTERM, then SIGKILL for any still running after `timeout` seconds."""
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGCONT)
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, name, args, env=None, cwd=None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        # Each server's stderr goes to bench/.logs/<name>.log (ignored by git), read on failure.
        LOGS.mkdir(exist_ok=True)
        with open(LOGS / f"{name}.log", "w") as err:
            p = spawn(args, env, cwd, stdout, err)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        stop_groups(self.procs)


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
        "jose": npm_version("jose"),
        "PyJWT": version("PyJWT"),
        "redis-server": cmd(["redis-server", "--version"]),
        "express": npm_version("express"),
        "express-session": npm_version("express-session"),
    }


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--apps", default="actix,actix-redis,axum,axum-redis,flask,express")
    parser.add_argument("--loads", default="", help="only these loads (comma-separated names), e.g. healthz,api-me")
    parser.add_argument("--tokens", type=int, default=100_000, help="distinct access tokens in the pool")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the loads the ratio targets compare (0: none)")
    parser.add_argument("--round-duration", type=int, default=5, help="seconds per load in a round")
    parser.add_argument("--no-write", action="store_true", help="print results, write no files")
    opts = parser.parse_args()
    apps = [a for a in opts.apps.split(",") if a]
    only = {load for load in opts.loads.split(",") if load}

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
        pem, signing_jwk = make_signing_key(tmp)
        config_file = tmp / "op.json"
        config_file.write_text(
            json.dumps(
                {
                    "clients": list(clients.values()),
                    "resources": {API_RESOURCE: {"scopes": [API_SCOPE]}},
                    "signing_key": signing_jwk,
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
        issuer = ready["issuer"]

        redis_port, redis = None, None
        if "actix-redis" in apps or "axum-redis" in apps:
            redis_port = free_port()
            log(f"starting redis-server on port {redis_port}")
            redis = start_redis(procs, redis_port)

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
                "API_RESOURCE": API_RESOURCE,
                "API_REQUIRED_SCOPES": API_SCOPE,
            }
            if name.startswith(("actix", "axum")):
                binary = "logto-axum-example" if name.startswith("axum") else "logto-actix"
                args = [str(target_dir() / "release" / binary)]
                env["LOGTO_API_RESOURCE"] = API_RESOURCE
                env["LOGTO_API_REQUIRED_SCOPES"] = API_SCOPE
                if name.endswith("-redis"):
                    env["SESSION_STORE"] = "redis"
                    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}"
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

        loads = {name: [load for load in LOADS[name] if not only or load[0] in only] for name in apps}
        cookies, cookie_sizes = {}, {}
        for name in apps:
            if not any(kind == "signed-in" for _, _, kind in loads[name]):
                continue
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

        # The access tokens: a pool of distinct valid ones, and one of each kind every app must
        # refuse.
        pool_file, api_checks = tmp / "tokens.txt", {}
        if any(kind.startswith("api") for name in apps for _, _, kind in loads[name]):
            started = time.monotonic()
            pool = mint(pem, issuer, opts.tokens)
            pool_file.write_text("\n".join(pool) + "\n")
            log(f"minted {len(pool)} distinct ES384 access tokens in {time.monotonic() - started:.1f} s")
            refused = {
                "another audience": mint(pem, issuer, 1, audience="https://other.bench.test")[0],
                "another issuer": mint(pem, issuer + "-not", 1)[0],
                "expired": mint(pem, issuer, 1, lifetime=-3600)[0],
                "no required scope": mint(pem, issuer, 1, scope="write:messages")[0],
            }
            for name in apps:
                if any(kind.startswith("api") for _, _, kind in loads[name]):
                    api_checks[name] = check_api(name, bases[name], pool[0], refused)
                    log(f"{name}: /api/me accepts a valid token and refuses {', '.join(refused)}")

        results = []
        memory_after = {}
        for name in apps:
            for load, path, kind in loads[name]:
                path = path or APPS[name]["sign_in"]
                header, tokens, duration = None, None, opts.duration
                rate = PACED_RATE if kind.endswith("-paced") else None
                kind = kind.removesuffix("-paced")
                if kind == "signed-in":
                    cookies[name] = browser_cookie(name, bases[name] + path, cookies[name])
                    header = f"Cookie: {cookies[name]}"
                elif kind == "api":
                    header = f"Authorization: Bearer {pool[0]}"
                elif kind == "api-fresh":
                    tokens = (pool_file, "cycle")
                elif kind == "api-flood":
                    # Every token once: each wrk thread stops when its share is used up, but wrk
                    # itself runs for its whole duration, so the duration is guessed from the
                    # fresh-token load (and bounded), and this load's req/s means nothing.
                    tokens = (pool_file, "once")
                    fresh = rps(report_so_far(results), name, "api-me-fresh") or 2000
                    duration = min(300, int(1.5 * opts.tokens / fresh) + 3)
                log(f"{name} {load} ({path}): {'the whole pool' if kind == 'api-flood' else f'{duration} s'}, {opts.connections} connections")
                # CPU bookkeeping: what the server used per request (steady whatever else runs),
                # and how much CPU processes outside this benchmark took meanwhile (on a shared
                # machine they lower req/s and raise p99).
                # The Redis store's server works for the app: its CPU is ours, not other load.
                store = [redis.pid] if name.endswith("-redis") else []
                ours = [servers[name].pid, op.pid, *store]
                store0 = sum(map(tree_cpu_s, store))
                app0, ours0, busy0, wrk0 = tree_cpu_s(servers[name].pid), sum(map(tree_cpu_s, ours)), machine_busy_s(), children_cpu_s()
                started = time.monotonic()
                r = run_wrk(bases[name] + path, header, duration, opts.connections, opts.threads, tokens, rate)
                elapsed = time.monotonic() - started
                app_cpu = tree_cpu_s(servers[name].pid) - app0
                other = (machine_busy_s() - busy0) - (sum(map(tree_cpu_s, ours)) - ours0) - (children_cpu_s() - wrk0)
                r["server_cpu_us_per_request"] = round(app_cpu * 1e6 / max(r["requests"], 1), 1)
                r["other_processes_cores"] = round(max(other, 0.0) / elapsed, 2)
                if store:
                    r["redis_server_cpu_us_per_request"] = round((sum(map(tree_cpu_s, store)) - store0) * 1e6 / max(r["requests"], 1), 1)
                if kind == "signed-in":
                    # The session must still be signed in after the load: otherwise we measured a
                    # signed-out page.
                    page = requests.get(bases[name] + path, headers={"Cookie": cookies[name]}, timeout=30)
                    if SIGNED_IN_MARKER not in page.text and "Your profile" not in page.text:
                        raise RuntimeError(f"{name}: {path} no longer signed in after the load")
                if kind == "api-flood":
                    samplers[name].sample()
                    memory_after[name] = {
                        "tokens_sent": r["requests"],
                        "rss_kb": sum(status_kb(p, "VmRSS") for p in descendants(servers[name].pid)),
                        "peak_rss_kb": samplers[name].peak_sum_kb,
                    }
                    log(f"  after {r['requests']} requests with {opts.tokens} distinct tokens: RSS {memory_after[name]['rss_kb'] / 1024:.1f} MB, peak {memory_after[name]['peak_rss_kb'] / 1024:.1f} MB")
                    continue
                results.append({"app": name, "load": load, "path": path, **r})
                log(
                    f"  {r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}, "
                    f"server {r['server_cpu_us_per_request']} us CPU/req"
                    + (f" (+ redis-server {r['redis_server_cpu_us_per_request']})" if store else "")
                    + f", other processes {r['other_processes_cores']} cores"
                )

        rounds = run_rounds(opts, apps, loads, bases, cookies)

        memory = {name: samplers[name].stop() for name in apps}
        for name, after in memory_after.items():
            memory[name]["after_token_flood"] = after
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
            "token_pool": opts.tokens,
            "flask_server": f"gunicorn, {flask_workers} sync workers ((2 x cores) + 1)",
            "express_server": "node app.js (one process), express-session MemoryStore",
            "actix_server": "release logto-actix, RUST_LOG=warn, default workers (one per core)",
            "axum_server": "release logto-axum-example, RUST_LOG=warn, tokio's multi-threaded runtime (one worker per core)",
            "note": "wrk, the apps and the provider share the same cores; everything on 127.0.0.1",
        },
        "apps": {name: APPS[name]["label"] for name in apps},
        "results": results,
        "memory": memory,
        "cookie_bytes": cookie_sizes,
        "api_refusals": api_checks,
        "rounds": rounds,
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


def browser_cookie(name: str, url: str, cookie: str) -> str:
    """The session cookie a browser would hold for a signed-in load of `url`, after one request
    with `cookie`: a page may write the session back (`/profile` re-reads userinfo once a minute
    and keeps when it did), a browser keeps what the page wrote, and wrk sends the same cookie on
    every request; loaded with a stale one, every request would re-read userinfo."""
    response = requests.get(url, headers={"Cookie": cookie}, allow_redirects=False, timeout=30)
    value = response.cookies.get(APPS[name]["cookie"])
    return f"{APPS[name]['cookie']}={value}" if value else cookie


def run_rounds(opts, apps: list[str], loads: dict, bases: dict, cookies: dict) -> dict:
    """The PAIRED loads, each run `opts.rounds` times in turn: req/s per round, by "app load"."""
    paired = [(name, load) for name, load in PAIRED if name in apps and any(l[0] == load for l in loads[name])]
    if len(paired) < 2 or opts.rounds < 1:
        return {}
    rps_by_load = {f"{name} {load}": [] for name, load in paired}
    for round_number in range(1, opts.rounds + 1):
        for name, load in paired:
            _, path, kind = next(l for l in loads[name] if l[0] == load)
            header = None
            if kind == "signed-in":
                cookies[name] = browser_cookie(name, bases[name] + path, cookies[name])
                header = f"Cookie: {cookies[name]}"
            r = run_wrk(bases[name] + path, header, opts.round_duration, opts.connections, opts.threads)
            if r["errors"]:
                raise RuntimeError(f"round {round_number}: {name} {load} had {r['errors']} errors")
            rps_by_load[f"{name} {load}"].append(r["rps"])
        log(f"round {round_number}: " + ", ".join(f"{key} {values[-1]:.0f}" for key, values in rps_by_load.items()) + " req/s")
    return {"duration_s": opts.round_duration, "rps": rps_by_load}


def report_so_far(results: list[dict]) -> dict:
    return {"results": results}


def rps(report: dict, app: str, load: str) -> float | None:
    for r in report["results"]:
        if r["app"] == app and r["load"] == load:
            return r["rps"]
    return None


def p99(report: dict, app: str, load: str) -> float | None:
    for r in report["results"]:
        if r["app"] == app and r["load"] == load:
            return r["p99_ms"]
    return None


def targets(report: dict) -> list[dict]:
    """The issue's targets that this run's figures can judge."""
    out = []

    def add(name, value, goal, ok):
        out.append({"target": name, "value": value, "goal": goal, "met": bool(ok)})

    def ratio(name, a, b, goal):
        if a and b:
            add(name, round(a / b, 2), f">= {goal}", a / b >= goal)

    rounds = report.get("rounds", {}).get("rps", {})

    def paired_ratio(name, a, b, goal):
        """Judged on the median of the rounds' ratios when both loads ran in rounds."""
        if not (rounds.get(a) and rounds.get(b)):
            ratio(name, rps(report, *a.split(" ")), rps(report, *b.split(" ")), goal)
            return
        ratios = [x / y for x, y in zip(rounds[a], rounds[b])]
        median = statistics.median(ratios)
        single = rps(report, *a.split(" ")) / rps(report, *b.split(" "))
        add(
            f"{name} (median of {len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}; first run {single:.2f})",
            round(median, 2),
            f">= {goal}",
            median >= goal,
        )

    health = rps(report, "actix", "healthz")
    home = rps(report, "actix", "home")
    me, me_fresh = rps(report, "actix", "api-me"), rps(report, "actix", "api-me-fresh")
    ratio("/api/me reused token / healthz", me, health, 0.50)
    ratio("/api/me fresh token / Express+jose fresh", me_fresh, rps(report, "express", "api-me-fresh"), 2)
    ratio("/api/me reused / Express+jose reused", me, rps(report, "express", "api-me"), 10)
    ratio("/api/me reused / Flask+PyJWT reused", me, rps(report, "flask", "api-me"), 30)
    paired_ratio("home / healthz", "actix home", "actix healthz", 0.60)
    paired_ratio("profile / home", "actix profile", "actix home", 0.9)
    paired_ratio("home redis / home cookie", "actix-redis home", "actix home", 0.80)
    if "actix" in report["memory"]:
        mem = report["memory"]["actix"]
        if "after_token_flood" in mem:
            mb = mem["peak_rss_kb"] / 1024
            sent = mem["after_token_flood"]["tokens_sent"]
            add(f"peak RSS (MB), pool of {report['settings']['token_pool']} tokens, {sent} sent once", round(mb, 1), "< 24 MB", mb < 24)
    floor = p99(report, "actix", "healthz")
    if floor:
        for r in report["results"]:
            if r["app"].startswith("actix") and r["load"] != "healthz" and not r["load"].endswith("-paced"):
                add(f"p99 {r['app']} {r['load']} / healthz p99 ({floor} ms)", round(r["p99_ms"] / floor, 2), "<= 1.5", r["p99_ms"] <= 1.5 * floor)
    paced_floor, paced_fresh = p99(report, "actix", "healthz-paced"), p99(report, "actix", "api-me-fresh-paced")
    if paced_floor and paced_fresh:
        add(
            f"p99 actix api-me-fresh / healthz p99, both at {PACED_RATE} req/s ({paced_fresh} / {paced_floor} ms)",
            round(paced_fresh / paced_floor, 2),
            "<= 1.5",
            paced_fresh <= 1.5 * paced_floor,
        )
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
            f"| {r['server_cpu_us_per_request']}"
            + (f" + {r['redis_server_cpu_us_per_request']} redis-server" if "redis_server_cpu_us_per_request" in r else "")
            + f" | {r['other_processes_cores']} |"
        )
    lines += ["", "| app | server | peak RSS under load (MB) | session cookie after sign-in (bytes) |", "|---|---|---:|---:|"]
    for name, label in report["apps"].items():
        mem = report["memory"][name]
        procs = f", {mem['processes']} processes" if mem["processes"] > 1 else ""
        cookie = report["cookie_bytes"].get(name, "—")
        lines.append(f"| {name} | {label}{procs} | {mem['peak_rss_kb'] / 1024:.1f} | {cookie} |")
    for name, mem in report["memory"].items():
        if "after_token_flood" in mem:
            after = mem["after_token_flood"]
            lines += [
                "",
                f"{name} after `/api/me` with {report['settings']['token_pool']} distinct valid tokens "
                f"({after['tokens_sent']} requests): RSS {after['rss_kb'] / 1024:.1f} MB, peak so far "
                f"{after['peak_rss_kb'] / 1024:.1f} MB.",
            ]
    if report.get("api_refusals"):
        lines += ["", "Every app's `/api/me` refused (status): " + "; ".join(
            f"{name} " + ", ".join(f"{why} {status}" for why, status in checks.items())
            for name, checks in report["api_refusals"].items()
        ) + "."]
    rounds = report.get("rounds", {}).get("rps", {})
    if rounds:
        count = max(len(values) for values in rounds.values())
        lines += [
            "",
            f"Rounds: the loads the ratios compare, again, one after another, {report['rounds']['duration_s']} s each (req/s):",
            "",
            "| load | " + " | ".join(f"round {n}" for n in range(1, count + 1)) + " |",
            "|---|" + "---:|" * count,
        ]
        for key, values in rounds.items():
            lines.append(f"| {key} | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    if report["targets"]:
        lines += ["", "| target (this app) | value | goal | met |", "|---|---:|---|---|"]
        for t in report["targets"]:
            lines.append(f"| {t['target']} | {t['value']} | {t['goal']} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
