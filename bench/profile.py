"""Per-request cost of this app's pages: CPU time under wrk, or instructions under callgrind.

Run through bench/profile.sh. Starts the test provider and one instance of this app on loopback
(as bench/driver.py does), signs in as `demo`, then measures, page by page:

- `--mode cpu`: the app runs natively and `wrk` loads each page for `--duration` seconds at
  `--connections`; the app's own CPU time (user + system, from /proc) is divided by the requests
  it answered. Also prints req/s and p99, which move with whatever else runs on the machine.
- `--mode callgrind`: the app runs under `valgrind --tool=callgrind`; each page gets `--requests`
  requests on one keep-alive connection between a `callgrind_control --zero` and a
  `callgrind_control --dump`, so each dump holds exactly that page's requests. Instruction counts
  do not depend on other load on the machine (user-space instructions only: the kernel's share,
  the socket calls, is not counted). Dumps go to `--out`, with a summary per page: instructions
  per request, self cost by crate, and the top functions (self and inclusive).

The callback is measured on sign-ins prepared beforehand (each through `/sign-in` and the
provider's form, stopped just before the browser would request `/callback`), then answered back
to back; the JWKS and discovery are already cached by an earlier sign-in.

Everything listens on 127.0.0.1; every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from driver import (  # noqa: E402
    APPS,
    CLK_TCK,
    FormFinder,
    children_cpu_s,
    free_port,
    machine_busy_s,
    run_wrk,
    spawn,
    stop_groups,
    target_dir,
    tree_cpu_s,
    wait_http,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PAGES = ["healthz", "stylesheet", "not-found", "home", "sign-in", "profile", "callback", "api-me", "api-me-fresh"]
# `stylesheet` (8.7 KB, static) and `not-found` (the 404 page, Tera, no session) are yardsticks:
# beside `/healthz` and home they tell the cost of bytes on the wire from the cost of the app's
# own work (see bench/PROFILE.md, "How far home can go").
PATHS = {
    "healthz": "/healthz",
    "stylesheet": "/static/app.css",
    "not-found": "/no-such-page",
    "home": "/",
    "sign-in": "/sign-in",
    "profile": "/profile",
    "api-me": "/api/me",
    "api-me-fresh": "/api/me",
}
SIGNED_IN = {"home", "profile"}
# `/api/me` with a machine-to-machine access token from the provider: `api-me` sends one token
# (verified once, at warm-up, then answered from the verified-token cache), `api-me-fresh` a new
# token on every request (each one's ES384 signature verified), at most FRESH_TOKENS of them.
API_RESOURCE = "https://api.bench.test"
API_SCOPE = "read:messages"
FRESH_TOKENS = 300


def log(message: str) -> None:
    print(f"[profile] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Signing in, in two halves so the callback can be measured alone.


def start_sign_in(base: str) -> tuple[requests.Session, str]:
    """Walks `/sign-in` and the provider's form; returns the client and the callback URL it
    would request next (not requested)."""
    http = requests.Session()
    response = http.get(base + "/sign-in", allow_redirects=False, timeout=60)
    form_sent = False
    for _ in range(20):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if urlparse(target).path == APPS["actix"]["callback"] and target.startswith(base):
                return http, target
            response = http.get(target, allow_redirects=False, timeout=60)
            continue
        if response.status_code != 200 or form_sent:
            raise RuntimeError(f"sign-in stopped at {urlparse(response.url).path}: {response.status_code}")
        finder = FormFinder()
        finder.feed(response.text)
        response = http.post(
            urljoin(response.url, finder.action),
            data={"username": "demo", "password": "demo-password"},
            allow_redirects=False,
            timeout=60,
        )
        form_sent = True
    raise RuntimeError("sign-in took too many hops")


def finish_sign_in(http: requests.Session, callback_url: str) -> str:
    response = http.get(callback_url, allow_redirects=False, timeout=120)
    if response.status_code != 303:
        raise RuntimeError(f"callback answered {response.status_code}")
    value = http.cookies.get(APPS["actix"]["cookie"])
    return f"{APPS['actix']['cookie']}={value}"


# ---------------------------------------------------------------------------------------------
# What the session cookie holds (sizes only: no value is printed).


def cookie_key(secret: str) -> bytes:
    """The encryption half of the app's cookie key: HKDF-SHA256 expansion of the whole secret
    (used as the pseudo-random key) with the cookie crate's info string, bytes 32..64."""
    import hashlib
    import hmac

    info = b"COOKIE;SIGNED:HMAC-SHA256;PRIVATE:AEAD-AES-256-GCM"
    first = hmac.new(secret.encode(), info + b"\x01", hashlib.sha256).digest()
    return hmac.new(secret.encode(), first + info + b"\x02", hashlib.sha256).digest()


def open_cookie(cookie: str, secret: str) -> dict[str, str]:
    """Decrypts the session cookie as the cookie crate's private jar seals it: base64 of
    nonce (12) | AES-256-GCM ciphertext | tag (16), the cookie's name as associated data, the
    encryption key being bytes 32..64 of the key derived from the session secret (`cookie_key`)."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    name, _, value = cookie.partition("=")
    from urllib.parse import unquote

    data = base64.b64decode(unquote(value))
    plain = AESGCM(cookie_key(secret)).decrypt(data[:12], data[12:], name.encode())
    return decode_state(plain.decode())


def decode_state(text: str) -> dict[str, str]:
    """The cookie store's text of a state (crates/logto-web/src/store/cookie.rs): `s1;`, then per
    entry `<bytes>:<name><bytes>:<value>`; or a JSON object (cookies written before)."""
    if not text.startswith("s1;"):
        return json.loads(text)
    data, state, parts = text[3:].encode(), {}, []
    while data:
        length, _, data = data.partition(b":")
        parts.append(data[: int(length)].decode())
        data = data[int(length):]
    for i in range(0, len(parts), 2):
        state[parts[i]] = parts[i + 1]
    return state


def encode_state(state: dict[str, str]) -> str:
    """The inverse of `decode_state`."""
    return "s1;" + "".join(f"{len(p.encode())}:{p}" for k, v in state.items() for p in (k, v))


def seal_cookie(name: str, state: dict[str, str], secret: str) -> str:
    """The inverse of `open_cookie`: what the app would send for `state`."""
    import base64
    from urllib.parse import quote

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plain = encode_state(state).encode()
    nonce = secrets.token_bytes(12)
    sealed = nonce + AESGCM(cookie_key(secret)).encrypt(nonce, plain, name.encode())
    return f"{name}={quote(base64.b64encode(sealed).decode(), safe='+')}"


def cookie_variant(cookie: str, secret: str, variant: str, userinfo: dict) -> str:
    """The signed-in cookie with its state changed, to measure what each part costs per request:
    `compact` (the user without null or empty fields), `no-tokens` (no tokens entry),
    `userinfo-copy` (plus the whole userinfo document and when it was read), `userinfo-at` (plus
    only when userinfo was read)."""
    name = cookie.partition("=")[0]
    state = open_cookie(cookie, secret)
    if variant == "compact":
        user = {k: v for k, v in json.loads(state["user"]).items() if v not in (None, [], {})}
        state["user"] = json.dumps(user, separators=(",", ":"))
    elif variant == "no-tokens":
        del state["tokens"]
    elif variant == "userinfo-copy":
        state["userinfo"] = json.dumps({"at": int(time.time()), "claims": userinfo}, separators=(",", ":"))
    elif variant == "userinfo-at":
        state["userinfo_at"] = json.dumps(int(time.time()))
    else:
        raise SystemExit(f"unknown cookie variant {variant}")
    return seal_cookie(name, state, secret)


def sealed_size(name: str, state: dict[str, str]) -> int:
    """Expected `name=value` length of the cookie that would carry `state`: serialized as the
    cookie store does (`encode_state`), sealed (nonce and tag add 28
    bytes), base64, then percent-encoded as the cookie crate does (`/` and `=` take 3 bytes;
    one base64 character in 64 is a `/`, so real cookies vary by a few bytes around this)."""
    plain = encode_state(state).encode()
    sealed = 12 + len(plain) + 16
    b64 = 4 * ((sealed + 2) // 3)
    padding = (3 - sealed % 3) % 3
    return len(name) + 1 + b64 + round(2 * b64 / 64) + 2 * padding


def shape(value) -> object:
    """The structure of a JSON value with every string replaced by its length."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, str):
        return f"<{len(value)} chars>"
    return value


def cookie_report(cookie: str, secret: str, endpoint: str) -> dict:
    name = cookie.partition("=")[0]
    state = open_cookie(cookie, secret)
    plain = encode_state(state)
    report = {
        "cookie_bytes": len(cookie),
        "plain_state_bytes": len(plain.encode()),
        "entries": {k: {"bytes": len(v), "shape": shape(json.loads(v))} for k, v in state.items()},
    }
    # The profile page's planned userinfo cache, two ways: the whole userinfo document as Logto
    # sends it, or only when it was read (the session's `user` already holds what the page shows).
    tokens = json.loads(state["tokens"])
    access = next(t["t"] for t in tokens["access_tokens"] if t["a"] == "")
    userinfo = requests.get(
        endpoint + "/oidc/me", headers={"Authorization": f"Bearer {access}"}, timeout=30
    ).json()
    with_copy = {**state, "userinfo": json.dumps({"at": int(time.time()), "claims": userinfo}, separators=(",", ":"))}
    with_stamp = {**state, "userinfo_at": json.dumps(int(time.time()))}
    report["with_userinfo_copy_bytes"] = sealed_size(name, with_copy)
    report["with_userinfo_timestamp_bytes"] = sealed_size(name, with_stamp)
    report["userinfo_document_bytes"] = len(json.dumps(userinfo, separators=(",", ":")))
    report["userinfo_shape"] = shape(userinfo)
    report["_userinfo"] = userinfo
    report["expected_bytes_now"] = sealed_size(name, state)
    return report


# ---------------------------------------------------------------------------------------------
# Fixed numbers of requests on one keep-alive connection (callgrind mode).


def response_bytes(port: int, path: str, cookie: str | None) -> dict:
    """Sizes of one answer on the wire: status line and headers, and body."""
    import socket

    # The app's own host and port: another Host is answered with a redirect to it (canonical host).
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall((request + "\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return {"request": len(request) + 2, "head": len(head) + 4, "body": len(body),
            "set_cookie": b"\r\nset-cookie:" in head.lower()}


def fixed_requests(port: int, path: str, headers: list[dict], count: int, expect: int) -> None:
    """`count` requests on one keep-alive connection, the n-th with `headers[n % len(headers)]`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for n in range(count):
        conn.request("GET", path, headers=headers[n % len(headers)])
        response = conn.getresponse()
        response.read()
        if response.status != expect:
            raise RuntimeError(f"{path} answered {response.status}, expected {expect}")
    conn.close()


# ---------------------------------------------------------------------------------------------
# Callgrind output: totals, self cost by crate, top functions.

CRATE_RE = re.compile(r"/registry/src/[^/]+/([A-Za-z0-9_\-]+?)-\d+\.\d+[^/]*/")
STD_RE = re.compile(r"/(?:rustc/[0-9a-f]+|lib/rustlib/src/rust)/library/([a-z_]+)/")


def crate_of(path: str, obj: str) -> str:
    if m := CRATE_RE.search(path):
        return m.group(1)
    if m := STD_RE.search(path):
        return "std:" + m.group(1)
    if m := re.search(r"/crates/([a-z_\-]+)/src/", path):
        return m.group(1)  # the workspace's library crates
    if "/work/" in path and "/src/" in path:
        return "app"
    name = os.path.basename(obj)
    if name.startswith("libc.so") or name.startswith("ld-linux"):
        return "libc"
    if name.startswith("vgpreload") or "valgrind" in obj:
        return "valgrind"
    return f"other ({name or '?'})"


def parse_callgrind(path: Path) -> dict:
    """Self cost by crate (of the source file the instructions come from, inlined code
    included), self cost by function, and inclusive cost by function (self plus the calls it
    makes to other functions; a function's recursive calls to itself are not added twice)."""
    names: dict[str, dict[str, str]] = {"fl": {}, "fn": {}, "ob": {}}
    table_of = {"fi": "fl", "fe": "fl", "cfl": "fl", "cfi": "fl", "cfe": "fl", "cfn": "fn", "cob": "ob"}
    by_crate: dict[str, int] = defaultdict(int)
    by_fn: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    total = 0
    fl = fi = ob = fn = cfn = ""
    in_call = False

    def name(kind: str, value: str) -> str:
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        table = names[table_of.get(kind, kind)]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "?")

    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if in_call:
                    in_call = False
                    if cfn != fn:
                        inclusive[fn] += cost
                    continue
                total += cost
                by_crate[crate_of(fi or fl, ob)] += cost
                by_fn[fn] += cost
                inclusive[fn] += cost
                continue
            if not c or c == "#" or c == "\n":
                continue
            key, _, value = line.rstrip("\n").partition("=")
            if key == "fl":
                fl, fi = name("fl", value), ""
            elif key in ("fi", "fe"):
                fi = name(key, value)
                if fi == fl:
                    fi = ""
            elif key == "fn":
                fn, fi = name("fn", value), ""
            elif key == "ob":
                ob = name("ob", value)
            elif key == "cfn":
                cfn = name("cfn", value)
            elif key in ("cfl", "cfi", "cfe", "cob"):
                name(key, value)
            elif key == "calls":
                in_call = True
    return {"total": total, "by_crate": dict(by_crate), "by_fn": dict(by_fn), "inclusive": dict(inclusive)}


def short(function: str, width: int = 110) -> str:
    function = re.sub(r"::h[0-9a-f]{16}", "", function)
    return function if len(function) <= width else function[: width - 1] + "…"


def summarize(dump: Path, requests_made: int, top: int) -> str:
    parsed = parse_callgrind(dump)
    total = parsed["total"]
    lines = [f"instructions per request: {total / requests_made:,.0f} ({total:,} over {requests_made} requests)", ""]
    lines.append("self cost by crate (source file of the inlined code):")
    for crate, cost in sorted(parsed["by_crate"].items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * cost / total:5.1f}%  {cost / requests_made:>10,.0f}  {crate}")
    lines.append("")
    lines.append("self cost by function:")
    for fn, cost in sorted(parsed["by_fn"].items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * cost / total:5.1f}%  {cost / requests_made:>10,.0f}  {short(fn)}")
    lines.append("")
    lines.append("inclusive cost by function:")
    for fn, cost in sorted(parsed["inclusive"].items(), key=lambda kv: -kv[1])[: top * 3]:
        lines.append(f"  {100 * cost / total:5.1f}%  {cost / requests_made:>10,.0f}  {short(fn)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def user_sys_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one process (all its threads, live or ended)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def threads_cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of a process's live threads (scheduler statistics): finer than the
    clock ticks of /proc/PID/stat, which a few hundred callbacks hardly move, but blind to
    threads that ended in between (actix's workers live as long as the server)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def callgrind_control(pid: int, action: str) -> None:
    # vgdb names its pipes after $USER and $HOST as valgrind saw them, and the app is started
    # with HOST=127.0.0.1 (its listen address): callgrind_control must see the same.
    env = {**os.environ, "HOST": "127.0.0.1"}
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True, env=env)


class Stack:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args, env=None, cwd=None, stdout=subprocess.DEVNULL, stderr=None):
        p = spawn(args, env, cwd, stdout, stderr or subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop_all(self):
        # Valgrind's apps take their time to write their profiles on the way out.
        stop_groups(self.procs, timeout=60)


# Frames every request passes through (runtime, dispatcher, middleware wrappers): left out of the
# report's inclusive tables, which start at the work a page does.
PLUMBING = re.compile(
    r"^(start_thread|clone|std::sys::|<std::sys::|core::ops::function::FnOnce::call_once|tokio::task::local::|"
    r"tokio::runtime::task::raw::poll|<actix_server::|<actix_service::and_then::|<actix_http::service::|"
    r"<actix_http::h1::dispatcher::Dispatcher|<actix_service::map_err::|<actix_web::resource::Resource|"
    r"actix_web::handler::handler_service|<actix_web::middleware::err_handlers::)"
)


def report(directory: Path, top: int) -> str:
    """Markdown tables of a callgrind run's dumps: per page, instructions per request, then the
    top functions by inclusive cost (below the runtime's own frames) and by self cost."""
    figures = json.loads((directory / "figures.json").read_text())
    lines = []
    for page, entry in figures["pages"].items():
        dump = directory / f"{page}.callgrind"
        if not dump.exists():
            continue
        parsed = parse_callgrind(dump)
        n, total = entry["requests"], parsed["total"]
        lines += [f"### {page}: {total / n:,.0f} instructions a request ({n} requests)", ""]
        lines += ["| inclusive % | instr/req | function |", "|---:|---:|---|"]
        rows = [(f, c) for f, c in parsed["inclusive"].items() if not PLUMBING.match(f)]
        for fn, cost in sorted(rows, key=lambda kv: -kv[1])[:top]:
            lines.append(f"| {100 * cost / total:.1f} | {cost / n:,.0f} | `{short(fn, 100)}` |")
        lines += ["", "| self % | instr/req | function |", "|---:|---:|---|"]
        for fn, cost in sorted(parsed["by_fn"].items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"| {100 * cost / total:.1f} | {cost / n:,.0f} | `{short(fn, 100)}` |")
        lines += ["", "| self % by crate | instr/req | crate |", "|---:|---:|---|"]
        for crate, cost in sorted(parsed["by_crate"].items(), key=lambda kv: -kv[1])[:8]:
            lines.append(f"| {100 * cost / total:.1f} | {cost / n:,.0f} | {crate} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "report":
        print(report(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 15))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["cpu", "callgrind"], default="callgrind")
    # Where profile.sh's `cargo build` put it: CARGO_TARGET_DIR when set (else ./target).
    parser.add_argument("--binary", default=str(target_dir() / "release/logto-actix"))
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--requests", type=int, default=2000, help="callgrind: requests per page")
    parser.add_argument("--sign-ins", type=int, default=100, help="callbacks measured")
    parser.add_argument("--duration", type=int, default=10, help="cpu: seconds of wrk per page")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(BENCH / ".profile"), help="callgrind dumps and summaries")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", help="write the figures to this file too")
    parser.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for the app")
    parser.add_argument("--redis", action="store_true", help="sessions in a throw-away redis-server (SESSION_STORE=redis)")
    parser.add_argument("--wrapper", default="", help="cpu: command to start the app under, e.g. 'strace -c -f -o FILE'")
    opts = parser.parse_args()
    pages = [p for p in opts.pages.split(",") if p]
    # The app runs in a temporary directory: make relative paths absolute first.
    out = Path(opts.out).resolve()
    opts.binary = str(Path(opts.binary).resolve())
    if not os.access(opts.binary, os.X_OK):
        raise SystemExit(f"no app binary at {opts.binary} (build it, or give --binary)")
    out.mkdir(parents=True, exist_ok=True)

    stack = Stack()
    tmp = Path(tempfile.mkdtemp(prefix="logto-profile-"))
    figures: dict = {"mode": opts.mode, "binary": opts.binary, "pages": {}}
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        client = {
            "client_id": "profile-actix",
            "client_secret": secrets.token_urlsafe(32),
            "redirect_uris": [base + "/callback"],
            "post_logout_redirect_uris": [base + "/"],
        }
        config = tmp / "op.json"
        m2m = {"client_id": "profile-m2m", "client_secret": secrets.token_urlsafe(32), "grant_types": ["client_credentials"]}
        config.write_text(json.dumps({"clients": [client, m2m], "resources": {API_RESOURCE: {"scopes": [API_SCOPE]}}}))
        config.chmod(0o600)
        op = stack.start(
            ["node", str(ROOT / "tests/op/server.js"), "--port", "0", "--ready-json", "--config", str(config)],
            stdout=subprocess.PIPE,
        )
        endpoint = f"http://127.0.0.1:{json.loads(op.stdout.readline())['port']}"
        env = {
            "LOGTO_ENDPOINT": endpoint,
            "LOGTO_APP_ID": client["client_id"],
            "LOGTO_APP_SECRET": client["client_secret"],
            "APP_BASE_URL": base,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SESSION_SECRET": secrets.token_urlsafe(64),
            "RUST_LOG": "warn",
            "LOGTO_API_RESOURCE": API_RESOURCE,
            "LOGTO_API_REQUIRED_SCOPES": API_SCOPE,
        }
        if opts.redis:
            # The store's own server: its CPU is not the app's, and callgrind sees only the app.
            redis_port = free_port()
            stack.start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            env["SESSION_STORE"] = "redis"
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}"
            time.sleep(0.5)
        for item in opts.env:
            k, _, v = item.partition("=")
            env[k] = v
        args = [opts.binary]
        if opts.mode == "callgrind":
            # Callgrind counts every iteration of `rep stosb`/`rep movsb` as an instruction, so
            # glibc's "ERMS" memset/memcpy of a few KB would look like thousands of instructions
            # for what the CPU does in a few dozen cycles: keep glibc on its vector loops.
            tunables = "glibc.cpu.x86_rep_stosb_threshold=1073741824:glibc.cpu.x86_rep_movsb_threshold=1073741824"
            env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), tunables]))
            args = [
                "valgrind", "--tool=callgrind", "--dump-instr=no", "--dump-line=yes",
                f"--callgrind-out-file={out}/callgrind.out.%p", *args,
            ]
        if opts.wrapper and opts.mode == "cpu":
            args = opts.wrapper.split() + args
        app_log = open(tmp / "app.log", "w")
        app = stack.start(args, env=env, cwd=tmp, stderr=app_log)
        wait_http(base + "/healthz", timeout=300, process=app, log=tmp / "app.log")
        log(f"app pid {app.pid} on {base} ({opts.mode})")

        # Warm up: discovery, JWKS, the HTTP client's connection pool, every page once.
        http, callback_url = start_sign_in(base)
        cookie = finish_sign_in(http, callback_url)
        figures["cookie_bytes"] = len(cookie)
        log(f"signed in; session cookie {len(cookie)} bytes (name=value)")
        userinfo = {}
        if not opts.redis:  # with Redis the cookie holds only the session's id
            figures["cookie"] = cookie_report(cookie, env["SESSION_SECRET"], endpoint)
            userinfo = figures["cookie"].pop("_userinfo")
        for path in ("/", "/profile", "/healthz"):
            requests.get(base + path, headers={"Cookie": cookie}, timeout=120)

        def m2m_token() -> str:
            return requests.post(
                endpoint + "/oidc/token",
                auth=(m2m["client_id"], m2m["client_secret"]),
                data={"grant_type": "client_credentials", "resource": API_RESOURCE, "scope": API_SCOPE},
                timeout=120,
            ).json()["access_token"]

        api_token = m2m_token()
        me = requests.get(base + "/api/me", headers={"Authorization": f"Bearer {api_token}"}, timeout=120)
        if me.status_code != 200:
            raise RuntimeError(f"/api/me refused the machine-to-machine token ({me.status_code})")
        fresh_tokens = [m2m_token() for _ in range(min(opts.requests, FRESH_TOKENS))] if "api-me-fresh" in pages else []
        figures["wire_bytes"] = {
            page: response_bytes(port, PATHS[page], cookie if page in SIGNED_IN else None)
            for page in PATHS
            if not page.startswith("api-")
        }
        log("bytes on the wire: " + ", ".join(
            f"{page} request {w['request']} head {w['head']} body {w['body']}{' set-cookie' if w['set_cookie'] else ''}"
            for page, w in figures["wire_bytes"].items()))

        for page in pages:
            # `home@compact` etc.: the same page with a changed session cookie (see cookie_variant).
            page_path, _, variant = page.partition("@")
            page_cookie = cookie_variant(cookie, env["SESSION_SECRET"], variant, userinfo) if variant else cookie
            if variant:
                log(f"{page}: cookie {len(page_cookie)} bytes")
            if page == "callback":
                prepared = [start_sign_in(base) for _ in range(opts.sign_ins)]
                log(f"callback: {len(prepared)} sign-ins prepared")
            if opts.mode == "callgrind":
                callgrind_control(app.pid, "--zero")
            cpu0, op0, wrk0, busy0 = tree_cpu_s(app.pid), tree_cpu_s(op.pid), children_cpu_s(), machine_busy_s()
            user0, sys0 = user_sys_s(app.pid)
            sched0 = threads_cpu_ns(app.pid)
            started = time.monotonic()
            if page == "callback":
                for session, url in prepared:
                    finish_sign_in(session, url)
                count, result = len(prepared), {}
            elif opts.mode == "callgrind":
                if page_path == "api-me":
                    headers, count = [{"Authorization": f"Bearer {api_token}"}], opts.requests
                elif page_path == "api-me-fresh":
                    headers = [{"Authorization": f"Bearer {t}"} for t in fresh_tokens]
                    count = len(headers)
                else:
                    headers = [{"Cookie": page_cookie}] if page_path in SIGNED_IN else [{}]
                    count = opts.requests
                expect = {"sign-in": 303, "not-found": 404}.get(page_path, 200)
                fixed_requests(port, PATHS[page_path], headers, count, expect)
                result = {}
            else:
                header = f"Cookie: {page_cookie}" if page_path in SIGNED_IN else None
                if page_path == "api-me":
                    header = f"Authorization: Bearer {api_token}"
                elif page_path == "api-me-fresh":
                    raise SystemExit("--mode cpu has no api-me-fresh: bench/run loads it with a pool of tokens")
                result = run_wrk(base + PATHS[page_path], header, opts.duration, opts.connections, opts.threads)
                count = result["requests"]
            elapsed = time.monotonic() - started
            cpu = tree_cpu_s(app.pid) - cpu0
            op_cpu, wrk_cpu = tree_cpu_s(op.pid) - op0, children_cpu_s() - wrk0
            user1, sys1 = user_sys_s(app.pid)
            sched_us = (threads_cpu_ns(app.pid) - sched0) / 1000
            # Cores taken by processes outside this measurement (other engineers' builds).
            other = (machine_busy_s() - busy0) - cpu - op_cpu - wrk_cpu
            entry = {
                "requests": count,
                "cpu_us_per_request": round(cpu * 1e6 / max(count, 1), 1),
                "cpu_us_per_request_schedstat": round(sched_us / max(count, 1), 1),
                "user_us_per_request": round((user1 - user0) * 1e6 / max(count, 1), 1),
                "sys_us_per_request": round((sys1 - sys0) * 1e6 / max(count, 1), 1),
                "wrk_cpu_us_per_request": round(wrk_cpu * 1e6 / max(count, 1), 1) if result else None,
                "provider_cpu_us_per_request": round(op_cpu * 1e6 / max(count, 1), 1),
                "other_cores": round(max(other, 0.0) / elapsed, 2),
                **result,
            }
            if opts.mode == "callgrind":
                # Each dump holds only this page's requests; its name says which.
                callgrind_control(app.pid, f"--dump={page}")
                dump = out / f"{page}.callgrind"
                dump.unlink(missing_ok=True)
                # The dump is written when valgrind next polls for commands: wait for the file.
                deadline = time.monotonic() + 120
                while not (dumps := list(out.glob(f"callgrind.out.{app.pid}.*"))):
                    if time.monotonic() > deadline:
                        raise RuntimeError("callgrind wrote no dump")
                    time.sleep(0.2)
                time.sleep(0.5)
                dumps[0].rename(dump)
                summary = summarize(dump, count, opts.top)
                (out / f"{page}.txt").write_text(summary)
                entry["instructions_per_request"] = round(parse_callgrind(dump)["total"] / count)
                log(f"{page}: {entry['instructions_per_request']:,} instructions/request -> {out}/{page}.txt")
            else:
                log(
                    f"{page}: {entry['cpu_us_per_request']} us CPU/request (user {entry['user_us_per_request']}, sys {entry['sys_us_per_request']}; "
                    f"schedstat {entry['cpu_us_per_request_schedstat']}) over {count} requests"
                    + (
                        f", {result['rps']:.0f} req/s, p99 {result['p99_ms']} ms, wrk {entry['wrk_cpu_us_per_request']} us/request"
                        if result
                        else f", {elapsed:.1f} s"
                    )
                    + f", provider {entry['provider_cpu_us_per_request']} us/request, other load {entry['other_cores']} cores"
                )
            figures["pages"][page] = entry
        with open(f"/proc/{app.pid}/status") as f:
            status = {l.split(":")[0]: l.split()[1] for l in f if l.startswith(("VmHWM", "VmRSS", "RssAnon", "RssFile"))}
        # Peak resident memory, and what is resident now: heap (anonymous) and the binary's pages.
        figures["vm_hwm_kb"] = int(status["VmHWM"])
        figures["rss_now_kb"] = {k: int(v) for k, v in status.items() if k != "VmHWM"}
        if opts.mode == "cpu":  # under valgrind the figures are valgrind's, not the app's
            log(f"memory: peak {figures['vm_hwm_kb']} kB; now {figures['rss_now_kb']}")
    finally:
        stack.stop_all()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    figures["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(figures, indent=2))
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    if opts.json:
        Path(opts.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
