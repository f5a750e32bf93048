"""Soak: two instances of this app on one Redis behind Sentinel, mixed load, Redis and Logto failing.

Run through bench/soak, which installs what this needs and builds the release binary. Everything
listens on 127.0.0.1; the load and the faults stop by themselves after --duration seconds, and
every process started here is stopped at the end. Session keys and client secrets are made per
run and never printed.

What it counts: requests by answer, faults injected by kind, sign-ins, sign-outs and back-channel
logouts, and SESSIONS LOST: a session that was signed in, that this driver did not sign out (by
POST /sign-out or a back-channel logout), and that a later request finds signed out. Goal: zero.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from driver import FormFinder, spawn, stop_groups  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOGS = BENCH / ".logs"
MASTER = "mymaster"
SIGNED_IN = "Signed in as"
# What a signed-out home page has, and a signed-in one does not.
SIGN_IN_LINK = 'href="/sign-in"'
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")


# ---------------------------------------------------------------------------------------------
# Processes


class Processes:
    """Every process this run starts, each in its own process group, stopped at the end."""

    def __init__(self):
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def start(self, name, args, env=None, cwd=None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        LOGS.mkdir(exist_ok=True)
        with open(LOGS / f"soak-{name}.log", "a") as err:
            p = spawn(args, env, cwd, stdout, err)
        with self.lock:
            self.procs[name] = p
        return p

    def signal(self, name: str, sig: int) -> None:
        with self.lock:
            p = self.procs[name]
        if p.poll() is None:
            os.killpg(p.pid, sig)

    def kill(self, name: str) -> None:
        with self.lock:
            p = self.procs[name]
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def stop_all(self) -> None:
        with self.lock:
            procs = list(self.procs.values())
        stop_groups(procs)


def redis_cli(port: int, *args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=5,
    )
    return out.stdout.strip()


def wait_for(what: str, check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, subprocess.SubprocessError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


class RedisGroup:
    """Two redis-servers (a primary and its replica) and three Sentinels watching them."""

    def __init__(self, procs: Processes, tmp: Path):
        self.procs = procs
        self.tmp = tmp
        self.ports = [free_port(), free_port()]
        self.sentinels = [free_port() for _ in range(3)]
        self.start_server(self.ports[0], None)
        self.start_server(self.ports[1], self.ports[0])
        for port in self.sentinels:
            config = tmp / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\nsentinel monitor {MASTER} 127.0.0.1 {self.ports[0]} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 3000\n"
            )
            procs.start(f"sentinel-{port}", ["redis-server", str(config), "--sentinel"])
        for port in self.sentinels:
            wait_for(f"sentinel {port}", lambda port=port: str(self.ports[0]) in redis_cli(port, "SENTINEL", "get-master-addr-by-name", MASTER))

    def start_server(self, port: int, replica_of: int | None) -> None:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.tmp)]
        if replica_of:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.procs.start(f"redis-{port}", args)
        wait_for(f"redis {port}", lambda: redis_cli(port, "PING") == "PONG")

    def primary(self) -> int:
        for port in self.sentinels:
            answer = redis_cli(port, "SENTINEL", "get-master-addr-by-name", MASTER).split()
            if len(answer) == 2:
                return int(answer[1])
        raise RuntimeError("no Sentinel names a primary")

    def urls(self) -> str:
        return ",".join(f"redis://127.0.0.1:{port}" for port in self.sentinels)

    def fail_over(self) -> str:
        """Kills the primary (SIGKILL), waits for the Sentinels to promote the replica, then starts
        the killed server again as the new primary's replica."""
        old = self.primary()
        new = next(port for port in self.ports if port != old)
        self.procs.kill(f"redis-{old}")
        started = time.monotonic()
        wait_for("failover", lambda: self.primary() == new and redis_cli(new, "ROLE").startswith("master"))
        took = time.monotonic() - started
        self.start_server(old, new)
        return f"primary {old} killed, {new} promoted after {took:.1f} s, {old} back as its replica"

    def restart_replica(self) -> str:
        primary = self.primary()
        replica = next(port for port in self.ports if port != primary)
        self.procs.kill(f"redis-{replica}")
        time.sleep(1.0)
        self.start_server(replica, primary)
        return f"replica {replica} killed and started again"


# ---------------------------------------------------------------------------------------------
# The provider and the apps


class Provider:
    def __init__(self, procs: Processes, tmp: Path, clients: list[dict], users: list[dict], token_ttl: int,
                 rotation: str):
        config = tmp / "op.json"
        config.write_text(json.dumps({"clients": clients, "users": users, "ttl": {"AccessToken": token_ttl}}))
        config.chmod(0o600)
        self.proc = procs.start(
            "provider",
            ["node", str(ROOT / "tests/op/server.js"), "--port", "0", "--ready-json", "--config", str(config)],
            stdout=subprocess.PIPE,
        )
        ready = json.loads(self.proc.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{ready['port']}"
        self.issuer = ready["issuer"]
        self.procs = procs
        self.control("settings", {"refresh_rotation": rotation})

    def control(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.endpoint}/__op/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return requests.get(f"{self.endpoint}/__op/stats", timeout=10).json()

    def logout_token(self, client_id: str, sub: str) -> str:
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
            "sub": sub,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        return self.control("sign", {"header": {"typ": "logout+jwt"}, "claims": claims, "sign_with": "provider"})["token"]

    def hang(self, seconds: float) -> str:
        """Logto stops answering (SIGSTOP) and comes back (SIGCONT) with everything it knew."""
        self.procs.signal("provider", signal.SIGSTOP)
        time.sleep(seconds)
        self.procs.signal("provider", signal.SIGCONT)
        return f"provider stopped for {seconds:.0f} s"

    def failing_tokens(self, times: int) -> str:
        self.control("fail", {"path": "/oidc/token", "mode": "500", "times": times})
        return f"next {times} token requests answered 500"


class App:
    def __init__(self, procs: Processes, tmp: Path, name: str, port: int, env: dict, binary: Path):
        self.procs = procs
        self.binary = binary
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self.env = {**env, "APP_BASE_URL": self.base, "PORT": str(port)}
        self.tmp = tmp
        self.start()

    def start(self) -> None:
        self.procs.start(self.name, [str(self.binary)], env=self.env, cwd=self.tmp)
        wait_for(f"{self.name} /healthz", lambda: requests.get(self.base + "/healthz", timeout=2).ok)

    def restart(self) -> str:
        started = time.monotonic()
        self.procs.signal(self.name, signal.SIGTERM)
        with self.procs.lock:
            p = self.procs.procs[self.name]
        p.wait(timeout=40)
        self.start()
        return f"{self.name} stopped (SIGTERM) and started again in {time.monotonic() - started:.1f} s"


# ---------------------------------------------------------------------------------------------
# Browsers


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.answers = collections.Counter()  # "GET /profile 200" -> count
        self.events = collections.Counter()
        self.lost: list[dict] = []
        self.faults: list[dict] = []
        self.slow = 0  # answers that took 3 s or more
        self.max_latency = 0.0

    def answer(self, key: str, took: float) -> None:
        with self.lock:
            self.answers[key] += 1
            self.max_latency = max(self.max_latency, took)
            if took >= 3.0:
                self.slow += 1

    def event(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.events[name] += n


class Browser:
    """One person: signs in, reads pages on either instance, signs out or is logged out by Logto,
    and signs in again; every answer is checked against what this person's session should be."""

    def __init__(self, index: int, apps: list[App], provider: Provider, client_id: str, stats: Stats,
                 stop: threading.Event, rng: random.Random):
        self.index = index
        self.sub = f"soak-user-{index}"
        self.username = f"soak{index}"
        self.password = f"soak-password-{index}"
        self.apps = apps
        self.provider = provider
        self.client_id = client_id
        self.stats = stats
        self.stop = stop
        self.rng = rng
        self.http = requests.Session()
        self.signed_in_since: float | None = None
        self.lifetime = 0.0

    def request(self, method: str, url: str, label: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = self.http.request(method, url, allow_redirects=False, timeout=15, **kwargs)
        except requests.RequestException:
            self.stats.answer(f"{label} no-answer", time.monotonic() - started)
            return None
        self.stats.answer(f"{label} {response.status_code}", time.monotonic() - started)
        return response

    def app(self) -> App:
        return self.rng.choice(self.apps)

    def sign_in(self) -> bool:
        self.http = requests.Session()
        app = self.app()
        response = self.request("GET", app.base + "/sign-in", "GET /sign-in")
        if response is None or not response.is_redirect:
            return False
        form_sent = False
        for _ in range(20):
            if response is None:
                return False
            if response.is_redirect:
                target = urljoin(response.url, response.headers["Location"])
                on_app = target.startswith(app.base)
                if on_app and urlparse(target).path == "/callback":
                    response = self.request("GET", target, "GET /callback")
                    ok = response is not None and response.status_code == 303
                    if ok:
                        self.signed_in_since = time.monotonic()
                    return ok
                response = self.http.get(target, allow_redirects=False, timeout=15)
                continue
            if response.status_code != 200 or form_sent:
                return False
            finder = FormFinder()
            finder.feed(response.text)
            if not finder.action:
                return False
            response = self.http.post(
                urljoin(response.url, finder.action),
                data={"username": self.username, "password": self.password},
                allow_redirects=False,
                timeout=15,
            )
            form_sent = True
        return False

    def lost(self, how: str) -> None:
        age = time.monotonic() - (self.signed_in_since or time.monotonic())
        with self.stats.lock:
            self.stats.lost.append({"user": self.sub, "how": how, "session_age_s": round(age, 1),
                                    "at": dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")})
        log(f"SESSION LOST: {self.sub}: {how}")
        self.signed_in_since = None

    def read(self, path: str) -> None:
        """A signed-in page: 200 and signed in, or a transient 502/503; anything else is a loss."""
        app = self.app()
        response = self.request("GET", app.base + path, f"GET {path}")
        if response is None or response.status_code in (502, 503):
            return
        if response.status_code == 200 and (path != "/" or SIGNED_IN in response.text):
            return
        if response.status_code == 200 and SIGN_IN_LINK in response.text:
            self.lost(f"GET {path} on {app.name}: the home page is signed out")
        elif response.status_code in (302, 303) and "/sign-in" in response.headers.get("Location", ""):
            self.lost(f"GET {path} on {app.name}: redirected to sign-in")
        else:
            self.lost(f"GET {path} on {app.name}: unexpected {response.status_code}")

    def is_signed_out(self) -> bool | None:
        """Whether the home page is signed out (None: no clear answer now)."""
        response = self.request("GET", self.app().base + "/", "GET /")
        if response is None or response.status_code != 200:
            return None
        if SIGNED_IN in response.text:
            return False
        return SIGN_IN_LINK in response.text

    def until_signed_out(self, what: str) -> None:
        """After a sign-out or logout the app answered, the session is signed out on both instances."""
        for _ in range(40):
            if self.stop.is_set():
                return
            answers = [self.is_signed_out() for _ in self.apps]
            if all(a is True for a in answers):
                return
            time.sleep(0.25)
        self.stats.event(f"{what} not applied")
        log(f"{self.sub}: still signed in after {what}")

    def sign_out(self) -> bool:
        app = self.app()
        page = self.request("GET", app.base + "/sign-out", "GET /sign-out")
        if page is None or page.status_code != 200:
            return False
        finder = FormFinder()
        finder.feed(page.text)
        csrf = finder.inputs.get("csrf_token")
        if not csrf:
            # The sign-out page of a session that is gone offers no form.
            self.lost(f"GET /sign-out on {app.name}: no sign-out form (signed out)")
            return False
        response = self.request("POST", app.base + "/sign-out", "POST /sign-out", data={"csrf_token": csrf})
        if response is None or response.status_code != 303:
            return False
        self.stats.event("sign-outs")
        self.signed_in_since = None
        self.until_signed_out("sign-out")
        return True

    def backchannel_logout(self) -> bool:
        """Logto's back-channel logout for this user, to either instance; retried as Logto does
        while the app answers 503."""
        token = self.provider.logout_token(self.client_id, self.sub)
        for _ in range(20):
            app = self.app()
            response = self.request("POST", app.base + "/backchannel-logout", "POST /backchannel-logout",
                                    data={"logout_token": token})
            if response is not None and response.status_code == 200:
                self.stats.event("back-channel logouts")
                self.signed_in_since = None
                self.until_signed_out("back-channel logout")
                return True
            time.sleep(0.5)
        self.stats.event("back-channel logouts given up")
        return False

    def run(self, think: float, lifetime: tuple[float, float]) -> None:
        while not self.stop.is_set():
            if self.signed_in_since is None:
                if self.sign_in():
                    self.stats.event("sign-ins")
                    self.lifetime = self.rng.uniform(*lifetime)
                else:
                    self.stats.event("sign-ins failed (retried)")
                    time.sleep(0.5)
                continue
            if time.monotonic() - self.signed_in_since >= self.lifetime:
                # The end this person chose at sign-in: a sign-out here or at Logto.
                if self.rng.random() < 0.5:
                    self.sign_out()
                else:
                    self.backchannel_logout()
            elif self.rng.random() < 0.5:
                self.read("/")
            else:
                self.read("/profile")
            time.sleep(think * self.rng.uniform(0.5, 1.5))


# ---------------------------------------------------------------------------------------------


def fault_loop(kinds: list[str], interval: float, redis: RedisGroup, provider: Provider, apps: list[App],
               stats: Stats, stop: threading.Event) -> None:
    actions = {
        "redis-failover": redis.fail_over,
        "redis-replica-restart": redis.restart_replica,
        "provider-down": lambda: provider.hang(3.0),
        "provider-token-500": lambda: provider.failing_tokens(5),
        "app-restart": lambda: apps[1].restart(),
    }
    n = 0
    while not stop.wait(interval):
        kind = kinds[n % len(kinds)]
        n += 1
        started = time.monotonic()
        try:
            what = actions[kind]()
        except Exception as error:  # a fault that could not be injected is reported, not hidden
            what = f"FAILED: {error}"
        with stats.lock:
            stats.faults.append({"kind": kind, "what": what, "took_s": round(time.monotonic() - started, 1)})
        log(f"fault {kind}: {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300, help="seconds of load (default 300)")
    parser.add_argument("--browsers", type=int, default=8, help="people signing in and out at once")
    parser.add_argument("--think", type=float, default=0.05, help="mean seconds between a person's requests")
    parser.add_argument("--session-min", type=float, default=10, help="shortest session, seconds, before its sign-out")
    parser.add_argument("--session-max", type=float, default=60, help="longest session, seconds")
    parser.add_argument("--fault-interval", type=float, default=15, help="seconds between faults")
    parser.add_argument("--faults", default="redis-failover,provider-down,redis-replica-restart,provider-token-500,app-restart",
                        help="kinds, injected in turn")
    parser.add_argument("--token-ttl", type=int, default=10, help="access token lifetime (refreshed at half)")
    parser.add_argument("--rotation", choices=["always", "seventy_percent"], default="seventy_percent",
                        help="refresh token rotation at the provider (Logto's default: seventy_percent)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--binary", type=Path, default=target_dir() / "release/logto-actix",
                        help="the app's binary (default: the release build bench/soak makes)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    opts = parser.parse_args()
    kinds = [k for k in opts.faults.split(",") if k]
    seed = opts.seed if opts.seed is not None else secrets.randbelow(1 << 30)

    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="logto-soak-"))
    stats = Stats()
    stop = threading.Event()
    try:
        log("starting Redis (a primary, a replica, three Sentinels)")
        redis = RedisGroup(procs, tmp)
        ports = [free_port(), free_port()]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        client = {
            "client_id": "soak-app",
            "client_secret": secrets.token_urlsafe(32),
            "redirect_uris": [base + "/callback" for base in bases],
            "post_logout_redirect_uris": [base + "/" for base in bases],
        }
        users = [
            {"sub": f"soak-user-{i}", "username": f"soak{i}", "password": f"soak-password-{i}",
             "name": f"Soak User {i}", "email": f"soak{i}@example.com"}
            for i in range(opts.browsers)
        ]
        log("starting the provider")
        provider = Provider(procs, tmp, [client], users, opts.token_ttl, opts.rotation)
        env = {
            "LOGTO_ENDPOINT": provider.endpoint,
            "LOGTO_APP_ID": client["client_id"],
            "LOGTO_APP_SECRET": client["client_secret"],
            "HOST": "127.0.0.1",
            "SESSION_SECRET": secrets.token_urlsafe(64),
            "SESSION_STORE": "redis",
            "REDIS_MODE": "sentinel",
            "REDIS_URL": redis.urls(),
            "REDIS_SENTINEL_MASTER": MASTER,
            "LOGTO_HTTP_TIMEOUT_SECS": "2",
            "LOGTO_USERINFO_MAX_AGE_SECS": "5",
            "RUST_LOG": "warn",
        }
        apps = [App(procs, tmp, f"app-{c}", port, env, opts.binary) for c, port in zip("ab", ports)]
        log(f"two instances on {bases[0]} and {bases[1]}; {opts.browsers} people, {opts.duration:.0f} s, "
            f"a fault every {opts.fault_interval:.0f} s ({', '.join(kinds)}), seed {seed}")
        provider.control("stats/reset", {})

        rng = random.Random(seed)
        browsers = [Browser(i, apps, provider, client["client_id"], stats, stop, random.Random(rng.random()))
                    for i in range(opts.browsers)]
        threads = [threading.Thread(target=b.run, args=(opts.think, (opts.session_min, opts.session_max)), daemon=True) for b in browsers]
        faults = threading.Thread(target=fault_loop, args=(kinds, opts.fault_interval, redis, provider, apps, stats, stop),
                                  daemon=True)
        started = time.monotonic()
        for t in threads:
            t.start()
        faults.start()
        next_report = started + 30
        while time.monotonic() - started < opts.duration:
            time.sleep(1)
            if time.monotonic() >= next_report:
                next_report += 30
                with stats.lock:
                    total = sum(stats.answers.values())
                log(f"{time.monotonic() - started:.0f} s: {total} requests, {len(stats.faults)} faults, "
                    f"{len(stats.lost)} sessions lost")
        stop.set()
        faults.join(timeout=60)
        for t in threads:
            t.join(timeout=60)
        duration = time.monotonic() - started

        # Every session still signed in must still be signed in, on both instances, now that
        # everything is back.
        still = [b for b in browsers if b.signed_in_since is not None]
        for b in still:
            for app in apps:
                b.stop = threading.Event()
                b.apps = [app]
                b.read("/profile")
        op_stats = provider.stats()
        answers = collections.Counter()
        for key, count in stats.answers.items():
            answers[key.rsplit(" ", 1)[1]] += count
        figures = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round(duration),
            "browsers": opts.browsers,
            "seed": seed,
            "rotation": opts.rotation,
            "requests": sum(stats.answers.values()),
            "answers": dict(sorted(answers.items())),
            "answers_by_route": dict(sorted(stats.answers.items())),
            "answers_3s_or_more": stats.slow,
            "max_latency_s": round(stats.max_latency, 2),
            "faults": len(stats.faults),
            "faults_by_kind": dict(collections.Counter(f["kind"] for f in stats.faults)),
            "fault_log": stats.faults,
            "events": dict(sorted(stats.events.items())),
            "sessions_checked_at_end": len(still),
            "sessions_lost": len(stats.lost),
            "lost": stats.lost,
            "provider_refresh_grants": op_stats["grants"].get("refresh_token", 0),
            "provider_refresh_grants_refused": op_stats.get("refused", {}).get("refresh_token", 0),
            "provider_code_grants": op_stats["grants"].get("authorization_code", 0),
        }
        print(json.dumps(figures, indent=2))
        if opts.json:
            opts.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0 if not stats.lost else 1
    finally:
        stop.set()
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
