"""The web page (web/) in a real browser: Debian's chromium driven by Playwright, against the
local stack (moto Cognito, the real handlers, a model trained here), as a seller and an admin.

Screenshots land in .work/artifacts/web/. `make test` installs chromium (Makefile `browser`);
PRODCAT_CHROMIUM names another Chromium-based browser.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, FilePayload, Page, expect, sync_playwright

from local_runtime.stack import LocalResources, LocalStack
from prodcat.sample_catalog import draw_photo

PASSWORD = "Corr3ct-horse-battery"
ARTIFACTS = Path(".work/artifacts/web")
TIMEOUT_MS = 30_000  # a prediction on a loaded 2-core machine takes a few seconds at worst
expect.set_options(timeout=TIMEOUT_MS)


def chromium_path() -> str:
    found = os.environ.get("PRODCAT_CHROMIUM") or shutil.which("chromium")
    if found is None:
        message = (
            "no chromium: `make test` installs it (Makefile: browser), or set PRODCAT_CHROMIUM"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path())
        yield launched
        launched.close()


@pytest.fixture
def page(
    browser: Browser, resources: LocalResources, request: pytest.FixtureRequest
) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    # A CSP violation or a script error is a console error: the page must produce none.
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.goto(resources.site_url)
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=ARTIFACTS / f"{request.node.name}-end.png", full_page=True)
    context.close()
    expected = [p for p in problems if "status of 4" in p]  # the browser logs 4xx answers
    assert [p for p in problems if p not in expected] == []


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def jpeg(code: int, seed: int, size: int) -> bytes:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed), size=size).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def sign_up_and_in(page: Page, email: str, stack: LocalStack | None = None) -> None:
    """Create, confirm and sign in through the forms, by keyboard (Enter submits)."""
    page.locator("#sign-up-email").fill(email)
    page.locator("#sign-up-password").fill(PASSWORD)
    page.locator("#sign-up-password").press("Enter")
    expect(page.locator("#notice")).to_contain_text("Account created")
    expect(page.get_by_label("Code from the email")).to_be_focused()
    page.keyboard.type("000000")  # moto accepts any code; Cognito would email one
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("Email confirmed")
    if stack is not None:
        stack.make_admin(email)  # the operator's step, before the token is issued
    expect(page.locator("#sign-in-password")).to_be_focused()
    page.keyboard.press("Control+A")  # whatever an earlier attempt left there
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_contain_text(email)
    expect(page.locator("#title")).to_be_focused()


def suggestions(page: Page) -> Any:
    return page.locator("#suggestions button.choice")


def test_every_control_has_a_label_and_the_page_is_served_with_its_policy(
    page: Page, resources: LocalResources
) -> None:
    answer = httpx.get(resources.site_url)
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    config = httpx.get(resources.site_url + "config.json").json()
    assert config["apiKey"] == resources.api_key and len(config["productTypes"]) == 27
    assert config["passwordRule"].startswith("at least 12 characters")
    expect(page.locator("#password-hint")).to_have_text(f"Use {config['passwordRule']}.")

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter(e => e.labels.length === 0).map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    # Tab order starts at the sign-in form, in reading order.
    page.keyboard.press("Tab")
    expect(page.locator("#sign-in-email")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#sign-in-password")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()


def test_a_seller_signs_up_gets_suggestions_chooses_one_and_reads_their_history(
    page: Page, resources: LocalResources
) -> None:
    sign_up_and_in(page, "web-seller@example.com")
    shot(page, "1-signed-in")

    # Typing: one debounced prediction for the whole title, five types in two languages.
    with page.expect_response("**/predict") as predicted:
        page.keyboard.type("Figurine Funko Pop Marvel Spider-Man 15 cm", delay=20)
    assert predicted.value.status == 200
    expect(suggestions(page)).to_have_count(5)
    expect(page.locator("#suggestions-status")).to_contain_text("From the text")
    first = suggestions(page).first
    expect(first.locator(".name-fr")).not_to_be_empty()
    expect(first.locator("meter")).to_have_count(1)
    bars = [
        float(v)
        for v in suggestions(page).locator("meter").evaluate_all("m => m.map(x => x.value)")
    ]
    assert bars == sorted(bars, reverse=True) and 0 < sum(bars) <= 1.0001
    shot(page, "2-text-suggestions")

    # A 2,400 px photo, dropped on the zone: sent downscaled to 1,000 px, answered from both.
    big = jpeg(1140, seed=4, size=2400)
    transfer = page.evaluate_handle(
        """(b64) => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
             const dt = new DataTransfer();
             dt.items.add(new File([bytes], 'figurine.jpg', {type: 'image/jpeg'}));
             return dt; }""",
        base64.b64encode(big).decode(),
    )
    with page.expect_request("**/predict") as sent:
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    body = json.loads(sent.value.post_data or "{}")
    assert body["top_k"] == 5 and body["designation"].startswith("Figurine")
    photo = Image.open(io.BytesIO(base64.b64decode(body["photo"])))
    assert max(photo.size) == 1000 and len(base64.b64decode(body["photo"])) < len(big)
    expect(page.locator("#suggestions-status")).to_contain_text("text and photo")
    expect(page.get_by_alt_text("The photo that will be sent")).to_be_visible()
    shot(page, "3-text-and-photo-suggestions")

    # Choosing by keyboard sends the feedback for this prediction.
    chosen = suggestions(page).nth(1)
    code = int(chosen.get_attribute("data-code") or 0)
    chosen.focus()
    with page.expect_response("**/feedback") as feedback:
        page.keyboard.press("Enter")
    assert feedback.value.status == 201
    assert json.loads(feedback.value.request.post_data or "{}")["prdtypecode"] == code
    expect(page.locator("#notice")).to_contain_text("Saved")
    expect(chosen).to_have_attribute("aria-pressed", "true")

    # History: the newest first, with the choice; more predictions make a second page.
    history = page.locator("[data-log=own]")
    expect(history.locator("tbody tr").first).to_contain_text(f"({code})")
    token = page.evaluate("() => JSON.parse(sessionStorage.getItem('prodcat.session')).idToken")
    headers = {"x-api-key": resources.api_key, "Authorization": token}
    for i in range(10):
        httpx.post(
            resources.api_url + "/predict",
            json={"designation": f"Lampe {i}"},
            headers=headers,
            timeout=60,
        ).raise_for_status()
    page.get_by_role("button", name="Refresh").click()
    expect(history.locator("caption")).to_contain_text("page 1")
    expect(history.locator("tbody tr").first).to_contain_text("Lampe 9")
    history.get_by_role("button", name="Older").click()
    expect(history.locator("caption")).to_contain_text("page 2")
    expect(history.locator("tbody tr").last).to_contain_text("Figurine")
    history.get_by_role("button", name="Newer").click()
    expect(history.locator("caption")).to_contain_text("page 1")
    shot(page, "4-history")

    # Sign out: nothing of the session stays in the browser's storage.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    stored = page.evaluate("() => [sessionStorage.length, localStorage.length]")
    assert stored == [0, 0]
    assert page.locator("#admin").is_hidden()


def test_api_refusals_are_shown_in_its_words_and_busy_answers_are_retried(page: Page) -> None:
    page.locator("#sign-up-email").fill("weak@example.com")
    page.locator("#sign-up-password").fill("short")
    page.get_by_role("button", name="Create account").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("password")
    shot(page, "5-refusal")

    page.locator("#sign-in-email").fill("nobody@example.com")
    page.locator("#sign-in-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_have_text("wrong email or password")

    sign_up_and_in(page, "web-busy@example.com")
    # The first /predict is refused as a throttled API Gateway answers; the page waits the
    # Retry-After, says so, and asks again.
    refused: list[str] = []

    def busy_once(route: Any) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(
            status=429,
            headers={"Retry-After": "2", "Content-Type": "application/json"},
            body=json.dumps({"message": "Too Many Requests"}),
        )

    page.route("**/predict", busy_once)
    page.keyboard.type("Tapis berbère 160x230")
    expect(page.locator("#notice")).to_contain_text("retrying in")
    shot(page, "6-retry-notice")
    expect(suggestions(page)).to_have_count(5)
    expect(page.locator("#notice")).to_be_hidden()
    assert len(refused) == 1


def test_an_admin_adds_and_removes_a_product_and_reads_a_sellers_log(
    page: Page, stack: LocalStack, resources: LocalResources
) -> None:
    seller = httpx.Client(base_url=resources.api_url, headers={"x-api-key": resources.api_key})
    assert (
        seller.post(
            "/register", json={"email": "logged@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    seller.post("/confirm", json={"email": "logged@example.com", "code": "1"}).raise_for_status()
    token = seller.post(
        "/login", json={"email": "logged@example.com", "password": PASSWORD}
    ).json()["id_token"]
    predicted = seller.post(
        "/predict",
        json={"designation": "Piscine tubulaire"},
        headers={"Authorization": token},
        timeout=60,
    )
    user_id = httpx.get(
        resources.api_url + "/logs",
        headers={"x-api-key": resources.api_key, "Authorization": token},
    ).json()["items"][0]["user_id"]
    assert predicted.status_code == 200

    sign_up_and_in(page, "web-admin@example.com", stack=stack)
    expect(page.locator("#who")).to_contain_text("(admin)")
    admin = page.locator("#admin")
    admin.get_by_label("Product id (optional)").fill("web-rug-1")
    admin.get_by_label("Title").fill("Tapis berbère 160x230")
    admin.get_by_label("Photo").set_input_files(
        files=FilePayload(
            name="rug.jpg", mimeType="image/jpeg", buffer=jpeg(1560, seed=5, size=1600)
        )
    )
    admin.get_by_label("Product type").select_option("1560")
    with page.expect_response("**/products") as added:
        admin.get_by_role("button", name="Add product").click()
    assert added.value.status == 201 and added.value.json()["photo_key"]
    expect(page.locator("#notice")).to_contain_text("Product web-rug-1 stored")

    admin.get_by_label("Product id", exact=True).fill("web-rug-1")
    admin.get_by_role("button", name="Remove product").click()
    expect(page.locator("#notice")).to_contain_text("Product web-rug-1 removed")

    admin.get_by_label("User id").fill(user_id)
    admin.get_by_label("User id").press("Enter")
    log = page.locator("[data-log=user]")
    expect(log.locator("caption")).to_contain_text(user_id)
    expect(log.locator("tbody tr").first).to_contain_text("Piscine tubulaire")
    shot(page, "7-admin")

    # An admin's refusal comes through in the API's words too.
    admin.get_by_label("Product id", exact=True).fill("no such product!")
    admin.get_by_role("button", name="Remove product").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
