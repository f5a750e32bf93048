"""Peer app for the benchmark: Flask with the official Logto Python SDK (PyPI `logto`).

Set up the way Logto's Python quick start does: a module-level LogtoClient whose storage is
Flask's own session (a signed cookie), async views awaiting the SDK. The pages mirror the Rust
app's home and profile so the three apps serve comparable HTML.

`GET /api/me` is an API protected by Logto access tokens as Logto's Python API-protection guide
writes it with PyJWT: the bearer token from the header, the signing key from a module-level
PyJWKClient (which caches the key set), `jwt.decode` checking the signature, issuer, audience
and expiry, then the required scopes.

Configuration from the environment (set by bench/driver.py): LOGTO_ENDPOINT, LOGTO_APP_ID,
LOGTO_APP_SECRET, APP_BASE_URL, SESSION_SECRET, API_RESOURCE, API_REQUIRED_SCOPES.
"""

import os
from functools import wraps
from typing import Union

import jwt
from flask import Flask, g, jsonify, redirect, render_template, request, session
from jwt import PyJWKClient
from logto import LogtoClient, LogtoConfig, Storage, UserInfoScope

app = Flask(__name__)
app.secret_key = os.environ["SESSION_SECRET"]
BASE_URL = os.environ["APP_BASE_URL"].rstrip("/")


class SessionStorage(Storage):
    """The quick start's storage: every SDK value lives in Flask's session cookie."""

    def get(self, key: str) -> Union[str, None]:
        return session.get(key, None)

    def set(self, key: str, value: Union[str, None]) -> None:
        session[key] = value

    def delete(self, key: str) -> None:
        session.pop(key, None)


client = LogtoClient(
    LogtoConfig(
        endpoint=os.environ["LOGTO_ENDPOINT"].rstrip("/"),
        appId=os.environ["LOGTO_APP_ID"],
        appSecret=os.environ["LOGTO_APP_SECRET"],
        # Same extra scopes as the Rust app's default (LOGTO_SCOPES = "email identities").
        scopes=[UserInfoScope.email, UserInfoScope.identities],
    ),
    storage=SessionStorage(),
)


@app.route("/")
async def home():
    if not client.isAuthenticated():
        return render_template("home.html", user=None)
    claims = client.getIdTokenClaims()
    return render_template("home.html", user=claims)


@app.route("/profile")
async def profile():
    if not client.isAuthenticated():
        return redirect("/sign-in")
    # The access token comes from the session's cache; the SDK refreshes it only when expired.
    token = await client.getAccessToken()
    if token is None:
        return redirect("/sign-in")
    return render_template("profile.html", user=client.getIdTokenClaims())


@app.route("/sign-in")
async def sign_in():
    return redirect(await client.signIn(redirectUri=f"{BASE_URL}/callback"))


@app.route("/callback")
async def callback():
    await client.handleSignInCallback(request.url)
    return redirect("/")


@app.route("/sign-out")
async def sign_out():
    return redirect(await client.signOut(postLogoutRedirectUri=f"{BASE_URL}/"))


@app.route("/healthz")
def healthz():
    return "ok"


ISSUER = os.environ["LOGTO_ENDPOINT"].rstrip("/") + "/oidc"
API_RESOURCE = os.environ.get("API_RESOURCE", "")
API_REQUIRED_SCOPES = os.environ.get("API_REQUIRED_SCOPES", "").split()
jwks_client = PyJWKClient(f"{ISSUER}/jwks")


def get_auth_token() -> str:
    auth = request.headers.get("Authorization", "")
    contents = auth.split()
    if len(contents) != 2 or contents[0] != "Bearer":
        raise jwt.InvalidTokenError("no bearer token")
    return contents[1]


def requires_auth(view):
    @wraps(view)
    def decorated(*args, **kwargs):
        try:
            token = get_auth_token()
            signing_key = jwks_client.get_signing_key_from_jwt(token)
            payload = jwt.decode(
                token,
                signing_key.key,
                algorithms=["ES384"],
                audience=API_RESOURCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            return jsonify(error="invalid_token"), 401
        scopes = payload.get("scope", "").split()
        if not all(scope in scopes for scope in API_REQUIRED_SCOPES):
            return jsonify(error="insufficient_scope"), 403
        g.auth = payload
        g.scopes = scopes
        return view(*args, **kwargs)

    return decorated


@app.route("/api/me")
@requires_auth
def api_me():
    return jsonify(sub=g.auth["sub"], client_id=g.auth.get("client_id"), scopes=g.scopes)
