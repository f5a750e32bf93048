"""Peer app for the benchmark: Flask with the official Logto Python SDK (PyPI `logto`).

Set up the way Logto's Python quick start does: a module-level LogtoClient whose storage is
Flask's own session (a signed cookie), async views awaiting the SDK. The pages mirror the Rust
app's home and profile so the three apps serve comparable HTML.

Configuration from the environment (set by bench/driver.py): LOGTO_ENDPOINT, LOGTO_APP_ID,
LOGTO_APP_SECRET, APP_BASE_URL, SESSION_SECRET.
"""

import os
from typing import Union

from flask import Flask, redirect, render_template, request, session
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
