"""Nobody reads the console without signing in: a token (bearer or the login cookie), or
the user a trusted proxy names, and only from the proxy's address."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gatekeeper.console.auth import Access
from tests.conftest import run_cli
from tests.console.conftest import TOKEN, make_client

PAGES = ["/", "/models", "/models/credit-scoring/4", "/workloads", "/decisions", "/policy"]


def test_unauthenticated_browsers_are_sent_to_login_and_scripts_get_401(world, clock):
    with make_client(world, clock, Access(token=TOKEN)) as anonymous:
        for path in PAGES:
            page = anonymous.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
            api = anonymous.get(path, headers={"Accept": "application/json"}, follow_redirects=False)
            assert api.status_code == 401
            assert api.json() == {"reason": "sign in: send Authorization: Bearer <console token>"}
            assert "credit-scoring" not in page.text + api.text


def test_a_wrong_token_reads_nothing(world, clock):
    with make_client(world, clock, Access(token=TOKEN)) as anonymous:
        for sent in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN):
            response = anonymous.get("/decisions", headers={"Authorization": sent})
            assert response.status_code == 401, sent
            assert "credit-scoring" not in response.text
        anonymous.cookies.set("gatekeeper_console", TOKEN)  # the token itself is not the session cookie
        assert anonymous.get("/decisions", headers={"Accept": "application/json"}).status_code == 401


def test_login_form_sets_an_httponly_strict_cookie(world, clock):
    with make_client(world, clock, Access(token=TOKEN)) as browser:
        wrong = browser.post("/login", data={"token": "not-the-token", "next": "/models"})
        assert wrong.status_code == 401 and "That token is not the console's token." in wrong.text
        assert "gatekeeper_console" not in browser.cookies
        signed_in = browser.post("/login", data={"token": TOKEN, "next": "/models"}, follow_redirects=False)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/models"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert TOKEN not in cookie  # the cookie is derived from the token, not the token
        page = browser.get("/models", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "credit-scoring@4" in page.text
        browser.get("/logout")
        assert browser.get("/models", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303


def test_login_never_redirects_off_site(world, clock):
    with make_client(world, clock, Access(token=TOKEN)) as browser:
        for target in ("https://evil.example", "//evil.example/x", "/\\evil.example"):
            answer = browser.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
            assert answer.headers["location"] == "/"


def test_the_console_is_read_only(client):
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/decisions")
        assert response.status_code == 405


def test_trusted_header_from_the_proxy_signs_in(world, clock):
    access = Access(trusted_user_header="x-forwarded-user",
                    trusted_proxies=__import__("gatekeeper.console.auth", fromlist=["x"]).proxy_networks(["10.1.2.3/32"]))
    app = make_client(world, clock, access).app
    with TestClient(app, base_url="http://console.test", client=("10.1.2.3", 40000)) as proxy:
        page = proxy.get("/decisions", headers={"X-Forwarded-User": "dana@example.com", "Accept": "text/html"})
        assert page.status_code == 200 and "dana@example.com" in page.text
        assert proxy.get("/decisions", headers={"Accept": "application/json"}).status_code == 401  # no header, no user
    with TestClient(app, base_url="http://console.test", client=("10.9.9.9", 40000)) as elsewhere:
        forged = elsewhere.get("/decisions", headers={"X-Forwarded-User": "dana@example.com", "Accept": "application/json"})
        assert forged.status_code == 401 and "credit-scoring" not in forged.text


def test_pages_carry_security_headers(client):
    headers = client.get("/").headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


def test_console_refuses_to_start_without_access_configured(tmp_path):
    result = run_cli("console", "--port", "1", env={"GATEKEEPER_CONSOLE_TOKEN": ""})
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "gatekeeper: no access configured: set GATEKEEPER_CONSOLE_TOKEN, or give --token-file, or --trusted-user-header "
        "with --trusted-proxy (the console never serves without sign-in)"]
    header_alone = run_cli("console", "--trusted-user-header", "X-Forwarded-User", env={"GATEKEEPER_CONSOLE_TOKEN": ""})
    assert header_alone.code == 2 and "needs --trusted-proxy" in header_alone.stderr
    short = tmp_path / "token"
    short.write_text("abc\n")
    too_short = run_cli("console", "--token-file", str(short))
    assert too_short.code == 2 and "shorter than 16 characters" in too_short.stderr
    bad_proxy = run_cli("console", "--trusted-user-header", "X-User", "--trusted-proxy", "not-an-address",
                        env={"GATEKEEPER_CONSOLE_TOKEN": ""})
    assert bad_proxy.code == 2 and "'not-an-address' is not an address or CIDR" in bad_proxy.stderr
