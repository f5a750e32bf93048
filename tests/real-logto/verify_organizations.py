#!/usr/bin/env python3
"""Organizations against a real Logto: provision what README's "Setting up Logto" asks for, run the
app against it, and go through it in a real browser.

Not part of CI (a real Logto needs a build CI cannot afford). Needs a started real Logto test target
(see README, "Run the tests"): `credentials.json` of that target names its Management API app, its
Traditional web app (redirect URI http://127.0.0.1:3000/callback) and the user alice.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install selenium requests
    /tmp/venv/bin/python tests/real-logto/verify_organizations.py /path/to/logto-real-target

What it does, through the Management API (idempotent; each Console step of README's "Organizations and
their roles" is one call, named beside it):
  organization permissions read:members, invite:members; organization roles admin (both, and the API
  permission read:items of https://api.example.com) and viewer (read:members); the API resource
  https://api.example.com with read:items; the organizations "Acme Corp" (alice: admin) and "Beta Labs"
  (alice: viewer), alice in no other organization while it runs.
Then, with the app built from this tree (`cargo build`; APP_BIN / AXUM_APP_BIN override) on 127.0.0.1:3000:
  the browser signs in as alice; /profile lists both by name with roles; choosing one (POST /organization)
  puts it in the header and shows its organization token and organization-scoped API token; switching;
  a role changed and an organization added in Logto show within LOGTO_USERINFO_MAX_AGE_SECS; the active
  organization left in Logto is dropped and alice stays signed in, at once when Logto refuses its token
  (403 access_denied); sign-out sends id_token_hint and Logto
  ends its session without asking (a new sign-in asks for the password); Hugging Face sign-in through the
  simulated Hugging Face; /api/me with tokens from a refresh grant under refuse | accept | require, on the
  app and the axum example. STORIES=organizations,refusal,screenshots,hugging-face,api picks some.
Screenshots of /profile (en/es, light/dark, 390 px wide) go to SHOTS (default ./target/real-logto-shots).
Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on a failure.
"""
import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

R = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LOGTO_REAL_DIR", "")).resolve()
CREDS = json.loads((R / "credentials.json").read_text())
ISSUER = CREDS["issuer"]
BASE = ISSUER.rsplit("/oidc", 1)[0]
APP = "http://127.0.0.1:3000"
REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("SHOTS", REPO / "target" / "real-logto-shots"))
API = "https://api.example.com"
ORG_PERMISSIONS = {"read:members": "Read members", "invite:members": "Invite members"}
ROLES = {"admin": ["read:members", "invite:members"], "viewer": ["read:members"]}
ACME, BETA, GAMMA = "Acme Corp", "Beta Labs", "Gamma Works"
USERINFO_MAX_AGE = 5
SCOPES = "email,identities,urn:logto:scope:organizations,urn:logto:scope:organization_roles," \
         "read:members,invite:members,read:items"
results = []


def case(name, ok, why=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name} {why}".rstrip(), flush=True)
    return ok


def claims(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ------------------------------------------------------------------------------------------------
# Management API


class Management:
    def __init__(self):
        r = requests.post(ISSUER + "/token", auth=(CREDS["m2m"]["id"], CREDS["m2m"]["secret"]), timeout=10,
                          data={"grant_type": "client_credentials", "resource": "https://default.logto.app/api",
                                "scope": "all"})
        r.raise_for_status()
        self.headers = {"Authorization": "Bearer " + r.json()["access_token"]}

    def __call__(self, method, path, body=None):
        r = requests.request(method, BASE + "/api" + path, headers=self.headers, json=body, timeout=10)
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        try:
            return r.json()
        except ValueError:  # 201/204 with "Created" or nothing
            return None

    def find(self, path, key, value):
        return next((x for x in self("GET", path + ("&" if "?" in path else "?") + "page_size=100")
                     if x[key] == value), None)


def provision(api):
    """README's "Organizations and their roles", steps 1 to 4, as Management API calls."""
    user = api.find("/users?search=alice", "username", "alice")
    # 1. Organization template → Organization permissions: POST /organization-scopes
    org_scope_ids = {}
    for name, description in ORG_PERMISSIONS.items():
        scope = api.find("/organization-scopes", "name", name) or \
            api("POST", "/organization-scopes", {"name": name, "description": description})
        org_scope_ids[name] = scope["id"]
    # 3. API resources → Create API resource, with the permission read:items: POST /resources, /resources/:id/scopes
    resource = api.find("/resources", "indicator", API) or \
        api("POST", "/resources", {"name": "Example items API", "indicator": API, "accessTokenTtl": 3600})
    read_items = next((s for s in api("GET", f"/resources/{resource['id']}/scopes") if s["name"] == "read:items"),
                      None) or api("POST", f"/resources/{resource['id']}/scopes",
                                   {"name": "read:items", "description": "Read items"})
    # 2. Organization template → Organization roles, with their permissions: POST /organization-roles,
    #    PUT /organization-roles/:id/scopes; 3. the API permission for admin: PUT .../resource-scopes
    role_ids = {}
    for name, permissions in ROLES.items():
        role = api.find("/organization-roles", "name", name) or \
            api("POST", "/organization-roles", {"name": name, "description": f"{name} of an organization"})
        api("PUT", f"/organization-roles/{role['id']}/scopes",
            {"organizationScopeIds": [org_scope_ids[p] for p in permissions]})
        api("PUT", f"/organization-roles/{role['id']}/resource-scopes",
            {"scopeIds": [read_items["id"]] if name == "admin" else []})
        role_ids[name] = role["id"]
    # 4. Organizations → Create organization; Members → Add member, with a role: POST /organizations,
    #    PUT /organizations/:id/users (the members, replaced), PUT /organizations/:id/users/:userId/roles
    org_ids = {}
    for name, role in ((ACME, "admin"), (BETA, "viewer")):
        org = api.find("/organizations?q=" + name.replace(" ", "%20"), "name", name) or \
            api("POST", "/organizations", {"name": name, "description": f"{name}, for the organization checks"})
        if user["id"] not in {u["id"] for u in api("GET", f"/organizations/{org['id']}/users")}:
            api("POST", f"/organizations/{org['id']}/users", {"userIds": [user["id"]]})
        api("PUT", f"/organizations/{org['id']}/users/{user['id']}/roles", {"organizationRoleIds": [role_ids[role]]})
        org_ids[name] = org["id"]
    # alice in these two only while this runs (provision.py puts her in "Acme" too)
    others = [o for o in api("GET", f"/users/{user['id']}/organizations") if o["id"] not in org_ids.values()]
    for org in others:
        api("DELETE", f"/organizations/{org['id']}/users/{user['id']}")
    return user, org_ids, role_ids, others


# ------------------------------------------------------------------------------------------------
# Tokens without the app: alice signs in through Logto's Experience API (as the app's client)


def app_auth():
    return CREDS["app"]["id"], CREDS["app"]["secrets"][0]["value"]


def sign_in_alice(scope, resources):
    """Alice's tokens for the app's client, asked as the app asks (scope, resources, prompt=consent)."""
    s = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = [("client_id", CREDS["app"]["id"]), ("redirect_uri", APP + "/callback"), ("response_type", "code"),
         ("scope", scope), ("state", secrets.token_urlsafe(8)), ("code_challenge", challenge),
         ("code_challenge_method", "S256"), ("prompt", "consent")] + [("resource", r) for r in resources]
    r = s.get(ISSUER + "/auth?" + urlencode(q), allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), f"auth: {r.status_code}"
    assert s.put(BASE + "/api/experience", json={"interactionEvent": "SignIn"}, timeout=10).status_code == 204
    v = s.post(BASE + "/api/experience/verification/password", timeout=10, json={
        "identifier": {"type": "username", "value": CREDS["user"]["username"]}, "password": CREDS["user"]["password"]})
    assert v.status_code == 200, f"password: {v.status_code} {v.text[:200]}"
    r = s.post(BASE + "/api/experience/identification", json={"verificationId": v.json()["verificationId"]}, timeout=10)
    assert r.status_code == 204, f"identification: {r.status_code} {r.text[:200]}"
    url = s.post(BASE + "/api/experience/submit", timeout=10).json()["redirectTo"]
    for _ in range(10):
        if url.startswith(APP):
            break
        r = s.get(url, allow_redirects=False, timeout=10)
        url = urljoin(url, r.headers.get("Location", ""))
    code = parse_qs(urlparse(url).query)["code"][0]
    r = requests.post(ISSUER + "/token", auth=app_auth(), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP + "/callback", "code_verifier": verifier})
    assert r.status_code == 200, f"code exchange: {r.status_code} {r.text[:200]}"
    return r.json()


def refresh(refresh_token, **params):
    return requests.post(ISSUER + "/token", auth=app_auth(), timeout=10,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token, **params})


def check_logto_answers(api, org_ids):
    """What Logto 1.37.1 answers, as the app relies on it (userinfo, organization grants, refusals)."""
    acme, beta = org_ids[ACME], org_ids[BETA]
    tok = sign_in_alice("openid offline_access profile " + SCOPES.replace(",", " "),
                        [API, "urn:logto:resource:organizations"])
    me = requests.get(ISSUER + "/me", headers={"Authorization": "Bearer " + tok["access_token"]}, timeout=10).json()
    data = {o["id"]: o for o in me.get("organization_data", [])}
    case("userinfo-organization-data", set(data) == {acme, beta} and data[acme]["name"] == ACME
         and set(data[acme]) == {"id", "name", "description"}, f"keys {sorted(data.get(acme, {}))}")
    case("userinfo-organization-roles", sorted(me.get("organization_roles", [])) ==
         sorted([f"{acme}:admin", f"{beta}:viewer"]), f"{me.get('organization_roles')}")
    rt = tok["refresh_token"]
    r = refresh(rt, organization_id=acme)
    c = claims(r.json()["access_token"]) if r.ok else {}
    case("organization-token", c.get("aud") == f"urn:logto:organization:{acme}"
         and set(c.get("scope", "").split()) == {"read:members", "invite:members"} and "organization_id" not in c,
         f"{r.status_code} aud={c.get('aud')} scope={c.get('scope')!r} id_token={'id_token' in r.json()}")
    r = refresh(rt, organization_id=acme, resource=API)
    c = claims(r.json()["access_token"]) if r.ok else {}
    case("organization-scoped-api-token", c.get("aud") == API and c.get("organization_id") == acme
         and c.get("scope") == "read:items", f"{r.status_code} scope={c.get('scope')!r}")
    r = refresh(rt, organization_id=beta, resource=API)
    c = claims(r.json()["access_token"]) if r.ok else {}
    case("organization-scoped-api-token-viewer", c.get("organization_id") == beta and c.get("scope") == "",
         f"{r.status_code} scope={c.get('scope')!r}")
    r = refresh(rt, resource=API)
    c = claims(r.json()["access_token"]) if r.ok else {}
    # Logto grants a plain resource token the API permissions of the user's roles in *all* organizations.
    case("plain-api-token-carries-organization-api-permissions", c.get("scope") == "read:items"
         and "organization_id" not in c, f"{r.status_code} scope={c.get('scope')!r}")
    r = refresh(rt, organization_id="not-a-member-org")
    case("organization-token-refused-403-access-denied", r.status_code == 403 and r.json().get("error") == "access_denied",
         f"{r.status_code} {r.json().get('error')}")
    return tok


# ------------------------------------------------------------------------------------------------
# The app


class App:
    """The app binary with a .env in a folder of its own, as an operator runs it."""

    def __init__(self, binary, **env):
        self.dir = tempfile.mkdtemp(prefix="real-logto-app-")
        values = {
            "LOGTO_ENDPOINT": BASE, "LOGTO_APP_ID": CREDS["app"]["id"],
            "LOGTO_APP_SECRET": CREDS["app"]["secrets"][0]["value"], "APP_BASE_URL": APP,
            "SESSION_SECRET": secrets.token_hex(32), "LOGTO_SCOPES": SCOPES, "LOGTO_RESOURCES": API,
            "LOGTO_USERINFO_MAX_AGE_SECS": str(USERINFO_MAX_AGE), "LOGTO_API_RESOURCE": API, **env}
        Path(self.dir, ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        self.log = open(Path(self.dir, "app.log"), "w")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOGTO_", "SESSION_", "APP_", "REDIS_"))}
        self.proc = subprocess.Popen([binary], cwd=self.dir, env=clean, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                if requests.get(APP + "/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"the app did not start: {Path(self.dir, 'app.log').read_text()[-500:]}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        self.log.close()

    def log_text(self):
        return Path(self.dir, "app.log").read_text()


def build_app(package, binary):
    given = os.environ.get("APP_BIN" if package == "logto-actix" else "AXUM_APP_BIN")
    if given:
        return given
    subprocess.run(["cargo", "build", "-q", "-p", package, "--bin", binary], cwd=REPO, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    return str(Path(target) / "debug" / binary)


# ------------------------------------------------------------------------------------------------
# The browser


class Browser:
    def __init__(self, lang="en-US", dark=False):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--window-size=390,844", f"--lang={lang}",
                    # the simulated Hugging Face's certificate is from a local CA
                    "--ignore-certificate-errors",
                    f"--blink-settings=preferredColorScheme={0 if dark else 1}"):
            options.add_argument(arg)
        if dark:
            options.add_argument("--force-dark-mode")
        options.add_experimental_option("prefs", {"intl.accept_languages": lang})
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        # Headless Chromium keeps windows at least 500 px wide: a phone's width is emulated instead.
        self.phone()
        self.look = f"{lang.split('-')[0]}-{'dark' if dark else 'light'}"

    def quit(self):
        self.d.quit()

    def wait(self, what, condition, timeout=20):
        try:
            return WebDriverWait(self.d, timeout).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what} at {self.d.current_url}") from None

    def path(self):
        return urlparse(self.d.current_url).path

    def at_app(self, path):
        return self.d.current_url.startswith(APP) and self.path() == path

    def css(self, selector):
        found = self.d.find_elements(By.CSS_SELECTOR, selector)
        return found[0] if found else None

    def text(self, selector):
        e = self.css(selector)
        return e.text if e else None

    def logto_sign_in(self, username, password):
        """On Logto's sign-in page: the username and password form."""
        field = self.wait("Logto's sign-in form", lambda: self.css("input[name=identifier]"))
        field.send_keys(username)
        self.css("input[name=password]").send_keys(password)
        self.css("button[type=submit]").click()

    def requested_urls(self):
        urls = []
        for entry in self.d.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def response_status(self, url):
        """The status of the last response from `url` since the performance log was last read."""
        for entry in self.d.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            # A redirect's answer comes with the request it leads to.
            response = message["params"].get("response") if message["method"] == "Network.responseReceived" \
                else message["params"].get("redirectResponse")
            if response and response["url"] == url:
                self.last_status = response["status"]
        return getattr(self, "last_status", None)

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.look}-{name}.png"
        self.d.save_screenshot(str(path))
        return path

    def phone(self, height=844):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": height, "deviceScaleFactor": 1, "mobile": True})

    def full_shot(self, name):
        """The whole page, however long, at the phone's width."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.phone(self.d.execute_script("return document.documentElement.scrollHeight"))
        try:
            self.d.save_screenshot(str(SHOTS / f"{self.look}-{name}.png"))
        finally:
            self.phone()


# ------------------------------------------------------------------------------------------------
# The stories


def profile(b):
    b.d.get(APP + "/profile")
    b.wait("/profile", lambda: b.at_app("/profile") and b.css("h1"))


def row(b, org_id):
    return b.text(f'li[data-organization="{org_id}"]') or ""


def roles_of(b, org_id):
    return b.text(f'li[data-organization="{org_id}"] [data-field=organization-roles]') or ""


def active_in_header(b):
    return (b.text("[data-field=active-organization]") or "").strip()


def token_facts(b, selector):
    """(audience, scopes, expiry) as the page shows them, or None."""
    dl = b.css(selector)
    if dl is None:
        return None
    dds = [dd.text for dd in dl.find_elements(By.CSS_SELECTOR, "dd")]
    return (dl.find_element(By.CSS_SELECTOR, "[data-field=audience]").text,
            set(dl.find_element(By.CSS_SELECTOR, "[data-field=scopes]").text.replace("—", "").split()), dds[-1])


def post_organization(b, org_id):
    """POST /organization from the page, with its CSRF token, as a form naming any organization would; returns
    the answer's status."""
    b.requested_urls()  # drop what came before
    b.last_status = None
    b.d.execute_script("""
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/organization';
        const fields = {csrf_token: document.querySelector('input[name=csrf_token]').value,
                        organization_id: arguments[0], return_to: '/profile'};
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();""", org_id)
    b.wait("the answer to POST /organization", lambda: b.d.execute_script("return document.readyState") == "complete"
           and b.response_status(APP + "/organization") is not None)
    return b.response_status(APP + "/organization")


def make_active(b, org_id, name):
    b.css(f'li[data-organization="{org_id}"] button[type=submit]').click()
    b.wait(f"{name} active", lambda: b.at_app("/profile") and active_in_header(b).endswith(name))


def sign_in_to_profile(b):
    b.d.get(APP + "/sign-in?return_to=%2Fprofile")
    b.logto_sign_in(CREDS["user"]["username"], CREDS["user"]["password"])
    b.wait("/profile after sign-in", lambda: b.at_app("/profile") and b.css("h1"))


def wait_for_profile(b, what, condition, timeout):
    """Reloads /profile until `condition` holds; returns the seconds it took."""
    started = time.monotonic()
    while True:
        profile(b)
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not seen within {timeout} s")
        time.sleep(0.5)


def organizations_story(api, binary, user, org_ids, role_ids):
    acme, beta = org_ids[ACME], org_ids[BETA]
    app = App(binary)
    b = Browser()
    gamma = None
    try:
        sign_in_to_profile(b)
        case("profile-lists-both-by-name-with-roles",
             ACME in row(b, acme) and roles_of(b, acme).endswith("admin")
             and BETA in row(b, beta) and roles_of(b, beta).endswith("viewer")
             and b.css("[data-field=no-active-organization]") is not None,
             f"{roles_of(b, acme)!r} {roles_of(b, beta)!r}")
        plain = token_facts(b, f'dl[data-resource="{API}"]')
        case("profile-plain-api-token", plain and plain[0] == API, f"{plain}")

        b.d.get(APP + "/sign-in")  # signed in at Logto: back without a question
        b.wait("a second sign-in without a password", lambda: b.d.current_url.startswith(APP)
               and b.path() not in ("/sign-in", "/callback"))
        case("second-sign-in-does-not-ask", b.css("input[name=password]") is None, b.d.current_url)

        profile(b)
        make_active(b, acme, ACME)
        token = token_facts(b, f'dl[data-organization-token="{acme}"]')
        scoped = token_facts(b, f'dl[data-organization-resource="{API}"]')
        case("choose-acme-header-and-organization-token",
             token and token[0] == f"urn:logto:organization:{acme}" and token[1] == {"read:members", "invite:members"}
             and token[2].endswith("min"), f"header={active_in_header(b)!r} token={token}")
        case("acme-organization-scoped-api-token", scoped and scoped[0] == API and scoped[1] == {"read:items"},
             f"{scoped}")
        case("no-token-on-the-page", "eyJ" not in b.d.page_source)
        b.d.get(APP + "/")
        case("header-on-other-pages", active_in_header(b).endswith(ACME), active_in_header(b))

        profile(b)
        make_active(b, beta, BETA)
        token = token_facts(b, f'dl[data-organization-token="{beta}"]')
        scoped = token_facts(b, f'dl[data-organization-resource="{API}"]')
        case("switch-to-beta", token and token[0] == f"urn:logto:organization:{beta}" and token[1] == {"read:members"}
             and scoped and scoped[1] == set(), f"header={active_in_header(b)!r} token={token} scoped={scoped}")

        # An admin changes alice's role in Acme (Acme active): role and token follow.
        make_active(b, acme, ACME)
        api("PUT", f"/organizations/{acme}/users/{user['id']}/roles", {"organizationRoleIds": [role_ids["viewer"]]})
        took = wait_for_profile(b, "Acme role viewer", lambda: roles_of(b, acme).endswith("viewer")
                                and (token_facts(b, f'dl[data-organization-token="{acme}"]') or ("", set()))[1]
                                == {"read:members"}, USERINFO_MAX_AGE + 5)
        case("role-change-shows-within-max-age", took <= USERINFO_MAX_AGE + 2, f"{took:.1f} s (max age {USERINFO_MAX_AGE} s)")
        api("PUT", f"/organizations/{acme}/users/{user['id']}/roles", {"organizationRoleIds": [role_ids["admin"]]})

        # Added to a third organization.
        gamma = api.find("/organizations?q=Gamma", "name", GAMMA) or \
            api("POST", "/organizations", {"name": GAMMA, "description": "added during the checks"})
        api("POST", f"/organizations/{gamma['id']}/users", {"userIds": [user["id"]]})
        took = wait_for_profile(b, "Gamma listed", lambda: GAMMA in row(b, gamma["id"]), USERINFO_MAX_AGE + 5)
        case("added-organization-shows-within-max-age", took <= USERINFO_MAX_AGE + 2, f"{took:.1f} s")
        api("DELETE", f"/organizations/{gamma['id']}/users/{user['id']}")
        wait_for_profile(b, "Gamma gone", lambda: b.css(f'li[data-organization="{gamma["id"]}"]') is None,
                         USERINFO_MAX_AGE + 5)

        # Removed from the active organization: dropped, still signed in.
        make_active(b, acme, ACME) if not active_in_header(b).endswith(ACME) else None
        api("DELETE", f"/organizations/{acme}/users/{user['id']}")
        took = wait_for_profile(b, "Acme dropped", lambda: b.css(f'li[data-organization="{acme}"]') is None
                                and b.css("[data-field=no-active-organization]") is not None, USERINFO_MAX_AGE + 5)
        case("organization-left-is-dropped", not active_in_header(b) and BETA in row(b, beta),
             f"{took:.1f} s, header={active_in_header(b)!r}")
        b.d.get(APP + "/")
        case("still-signed-in-after-the-drop", b.css("form[action='/sign-out']") is not None)
        r = post_organization(b, acme)
        case("left-organization-cannot-be-chosen", r == 400, f"POST /organization: {r}")
        api("POST", f"/organizations/{acme}/users", {"userIds": [user["id"]]})
        api("PUT", f"/organizations/{acme}/users/{user['id']}/roles", {"organizationRoleIds": [role_ids["admin"]]})

        # Sign-out: id_token_hint; Logto ends its session without asking; the next sign-in asks.
        b.requested_urls()  # drop what came before
        b.d.get(APP + "/")
        b.css("form[action='/sign-out'] button[type=submit]").click()
        b.wait("home, signed out", lambda: b.at_app("/") and b.css("a[href='/sign-in']") is not None)
        ends = [u for u in b.requested_urls() if u.startswith(ISSUER + "/session/end")]
        params = parse_qs(urlparse(ends[0]).query) if ends else {}
        hint = claims(params["id_token_hint"][0]) if "id_token_hint" in params else {}
        case("sign-out-sends-id-token-hint", hint.get("sub") == user["id"] and hint.get("aud") == CREDS["app"]["id"]
             and params.get("client_id") == [CREDS["app"]["id"]] and params.get("post_logout_redirect_uri") == [APP + "/"],
             f"end-session parameters {sorted(params)}")
        b.d.get(APP + "/sign-in")
        b.wait("Logto's sign-in form", lambda: b.css("input[name=identifier]") or b.d.current_url.startswith(APP))
        case("after-sign-out-logto-asks-again", b.d.current_url.startswith(BASE) and b.css("input[name=identifier]"),
             b.d.current_url.split("?")[0])
        leaked = [line for line in app.log_text().splitlines() if "eyJ" in line]
        case("no-token-in-the-app-log", not leaked, f"{len(leaked)} lines")
    finally:
        b.quit()
        app.stop()
        if gamma:
            api("DELETE", f"/organizations/{gamma['id']}")


def refusal_story(api, binary, user, org_ids):
    """Alice leaves Beta in Logto while the app's copy of her organizations is fresh (10 min): choosing Beta
    asks Logto for its token, Logto refuses (403 access_denied), the app drops Beta and she stays signed in."""
    beta = org_ids[BETA]
    app = App(binary, LOGTO_USERINFO_MAX_AGE_SECS="600")
    b = Browser()
    try:
        sign_in_to_profile(b)
        api("DELETE", f"/organizations/{beta}/users/{user['id']}")
        chosen = post_organization(b, beta)
        profile(b)
        case("refused-organization-dropped-at-once", chosen == 303
             and b.css(f'li[data-organization="{beta}"]') is None and not active_in_header(b)
             and b.css(f'li[data-organization="{org_ids[ACME]}"]') is not None,
             f"POST /organization {chosen}, header={active_in_header(b)!r}")
        b.d.get(APP + "/")
        case("refused-organization-still-signed-in", b.css("form[action='/sign-out']") is not None)
    finally:
        b.quit()
        app.stop()


def screenshots(binary, org_ids):
    """/profile with two organizations, Acme active, at 390 px: English and Spanish, light and dark."""
    app = App(binary)
    try:
        for lang in ("en-US", "es-ES"):
            for dark in (False, True):
                b = Browser(lang, dark)
                try:
                    sign_in_to_profile(b)
                    make_active(b, org_ids[ACME], ACME)
                    widths = b.d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
                    fits = widths == [390, 390]
                    b.shot("profile-top")
                    b.d.execute_script("document.querySelector('.organizations').previousElementSibling.scrollIntoView()")
                    b.shot("profile-organizations")
                    b.d.execute_script("document.querySelector('[data-organization-token]').scrollIntoView()")
                    b.shot("profile-organization-tokens")
                    b.full_shot("profile-full")
                    case(f"screenshots-{b.look}", fits, f"page and window widths {widths}")
                finally:
                    b.quit()
    finally:
        app.stop()


def hugging_face_story(api, binary):
    """Continue with Hugging Face: Logto's connector against the simulated Hugging Face."""
    app = App(binary)
    b = Browser()
    made = None
    try:
        b.d.get(APP + "/")
        b.css("a[href='/sign-in/huggingface']").click()
        # A first Hugging Face sign-in: Logto asks for a username (Hugging Face's is not Logto's).
        b.wait("back at the app, or Logto asking for a username",
               lambda: b.d.current_url.startswith(APP) or b.css("input[name=identifier]")
               or b.css("input[name=username]"))
        field = b.css("input[name=identifier]") or b.css("input[name=username]")
        if field is not None and not b.d.current_url.startswith(APP):
            field.send_keys("hf_real_" + secrets.token_hex(3))
            b.css("button[type=submit]").click()
        b.wait("home after Hugging Face", lambda: b.at_app("/") and b.css("form[action='/sign-out']"))
        profile(b)
        case("hugging-face-sign-in", b.text("[data-field=hf-username]") == "@hf-alice",
             f"hf-username={b.text('[data-field=hf-username]')!r}")
        made = b.text("[data-field=sub]")
    finally:
        b.quit()
        app.stop()
        if made:  # the next first Hugging Face sign-in must ask for a username again
            api("DELETE", f"/users/{made}")


def api_policy_story(binaries, org_ids):
    """/api/me with a plain and an organization-scoped token for the API, under each policy."""
    tok = sign_in_alice("openid offline_access profile " + SCOPES.replace(",", " "),
                        [API, "urn:logto:resource:organizations"])
    plain = refresh(tok["refresh_token"], resource=API).json()["access_token"]
    scoped = refresh(tok["refresh_token"], resource=API, organization_id=org_ids[ACME]).json()["access_token"]
    organization = refresh(tok["refresh_token"], organization_id=org_ids[ACME]).json()["access_token"]

    def me(token):
        r = requests.get(APP + "/api/me", headers={"Authorization": "Bearer " + token}, timeout=10)
        return r.status_code, r.headers.get("WWW-Authenticate", ""), (r.json() if r.content else None)

    for name, binary in binaries:
        for policy in ("refuse", "accept", "require"):
            app = App(binary, LOGTO_API_ORGANIZATIONS=policy)
            try:
                p, s, o = me(plain), me(scoped), me(organization)
            finally:
                app.stop()
            if policy == "refuse":
                ok = p[0] == 200 and s[0] == 401 and 'error="invalid_token"' in s[1]
            elif policy == "accept":
                ok = p[0] == 200 and "organization_id" not in p[2] and s[0] == 200 \
                     and s[2].get("organization_id") == org_ids[ACME] and s[2].get("scopes") == ["read:items"]
            else:
                ok = p[0] == 403 and 'error="insufficient_scope"' in p[1] and s[0] == 200 \
                     and s[2].get("organization_id") == org_ids[ACME]
            # An organization token's audience is the organization, never this API.
            ok = ok and o[0] == 401
            case(f"api-me-{policy}-{name}", ok, f"plain {p[0]}, organization-scoped {s[0]} {s[2]}, organization token {o[0]}")


def main():
    api = Management()
    user, org_ids, role_ids, others = provision(api)
    try:
        check_logto_answers(api, org_ids)
        actix = build_app("logto-actix", "logto-actix")
        axum = build_app("logto-axum-example", "logto-axum-example") if "api" in os.environ.get("STORIES", "api") else None
        stories = {
            "organizations": lambda: organizations_story(api, actix, user, org_ids, role_ids),
            "refusal": lambda: refusal_story(api, actix, user, org_ids),
            "screenshots": lambda: screenshots(actix, org_ids),
            "hugging-face": lambda: hugging_face_story(api, actix),
            "api": lambda: api_policy_story([("actix", actix), ("axum", axum)], org_ids),
        }
        chosen = os.environ.get("STORIES", ",".join(stories)).split(",")
        for story in (stories[name] for name in chosen):
            try:
                provision(api)  # alice back in both organizations with her roles, whatever a story changed
                story()
            except Exception as e:  # one story failing does not hide the others
                case("story", False, f"{type(e).__name__}: {e}"[:400])
    finally:
        for org in others:  # back as provision.py left her
            api("POST", f"/organizations/{org['id']}/users", {"userIds": [user["id"]]})
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed; screenshots in {SHOTS}")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
