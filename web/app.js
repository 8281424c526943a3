// prodcat's web page: the marketplace's side of the API (README "The API"), in plain JS.
//
// config.json, deployed beside this file, says where the API is and gives the website's API
// key (an API Gateway usage-plan key: it identifies the website for throttling and quotas; it
// is not a secret and grants nothing alone: every route but sign-up and sign-in also needs a
// Cognito id token) and the product types an admin may label with.
//
// The session: only the id token (what the API's authorizer reads), its expiry and what it says
// about the user are kept, in sessionStorage: it survives a reload of this tab, is never shared
// with other tabs, and is gone when the tab closes. The refresh token that /login returns is
// dropped: it lives for days and would be a long-lived credential in JavaScript-readable storage
// (localStorage persists it on disk across sessions); when the id token expires the seller signs
// in again. The page's Content-Security-Policy (script-src 'self') guards the storage it uses.
"use strict";

const SESSION_KEY = "prodcat.session";
const PREDICT_DEBOUNCE_MS = 400; // wait for a pause in typing before asking the model
const PHOTO_MAX_SIDE = 1000; // the README's advice: the model looks at 224 px anyway
const MAX_RETRIES = 3; // 429/503 answers retried after Retry-After, then shown
const MAX_AUTO_WAIT_S = 60; // a longer Retry-After (no model deployed yet: 300 s) is shown, not waited
const LOG_PAGE = 10;

let config = null;
let session = null;

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---- the API -------------------------------------------------------------------------------

function describe(status, data, signedIn) {
  // The API's own message, in its words, with the fields at fault when it names them.
  let message = data && typeof data.message === "string" ? data.message : "";
  if (status === 401 && signedIn) {
    // The API's 401 tells a developer which header to send; a seller needs to sign in again.
    message = "Your session has ended: please sign in again.";
  } else if (!message) {
    message = `The API answered ${status} without an explanation.`;
  }
  const errors = data && Array.isArray(data.errors) ? data.errors : [];
  const fields = errors.map((e) => (e.field && e.field !== "body" ? `${e.field}: ${e.message}` : e.message));
  if (data && typeof data.errors === "string" && data.errors) fields.push(data.errors);
  if (data && data.errors_omitted) fields.push(`and ${data.errors_omitted} more`);
  const unique = fields.filter((f) => f && !message.includes(f));
  return unique.length ? `${message} (${unique.join("; ")})` : message;
}

function retryAfterSeconds(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return 1;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value); // Retry-After may also be an HTTP date
  return Number.isNaN(date) ? 1 : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted", "AbortError"));
      }, { once: true });
    }
  });
}

async function waitVisibly(seconds, status, signal) {
  const why = status === 429 ? "The API is busy (too many requests)" : "The API is not ready right now";
  try {
    for (let left = seconds; left > 0; left -= 1) {
      notice(`${why}: retrying in ${left} s…`);
      await sleep(1000, signal);
    }
    notice(`${why}: retrying now…`);
  } catch (e) {
    notice("");
    throw e;
  }
}

async function api(method, path, body, { signal, signedIn = true } = {}) {
  if (signedIn && !currentSession()) throw new ApiError(401, "Your session has ended: please sign in again.");
  for (let attempt = 0; ; attempt += 1) {
    const headers = { "x-api-key": config.apiKey };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (signedIn) headers.Authorization = session.idToken;
    let response;
    try {
      response = await fetch(config.apiUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, "The API could not be reached: check your connection and try again.");
    }
    if (response.status === 429 || response.status === 503) {
      const wait = retryAfterSeconds(response);
      if (attempt < MAX_RETRIES && wait <= MAX_AUTO_WAIT_S) {
        await waitVisibly(wait, response.status, signal);
        continue;
      }
      const data = await response.json().catch(() => null);
      notice("");
      throw new ApiError(response.status, `${describe(response.status, data, signedIn)} Try again in ${wait} s.`);
    }
    if (attempt > 0) notice("");
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401 && signedIn) signOut();
      throw new ApiError(response.status, describe(response.status, data, signedIn));
    }
    return data;
  }
}

// ---- messages ------------------------------------------------------------------------------

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function showError(error) {
  if (error && error.name === "AbortError") return;
  const text = error instanceof ApiError ? error.message : `Something went wrong in this page: ${error}`;
  $("error").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function say(text) {
  clearError();
  notice(text);
}

// Runs a form's action with its submit button disabled, errors shown.
function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    clearError();
    try {
      await action(new FormData(form));
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
}

// ---- the session ---------------------------------------------------------------------------

function claimsOf(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const json = decodeURIComponent(
    atob(part).split("").map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
  );
  return JSON.parse(json);
}

function currentSession() {
  if (session && Date.now() >= session.expiresAt) {
    signOut();
    notice("Your session has ended: please sign in again.");
  }
  return session;
}

function startSession(tokens) {
  const claims = claimsOf(tokens.id_token);
  // cognito:groups lets the page show the admin tools; the API checks the group itself.
  session = {
    idToken: tokens.id_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    email: claims.email,
    userId: claims.sub,
    admin: (claims["cognito:groups"] || []).includes("admins"),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  render();
}

function signOut() {
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  render();
}

function render() {
  const signedIn = Boolean(session);
  $("account").hidden = signedIn;
  $("listing").hidden = !signedIn;
  $("history").hidden = !signedIn;
  $("admin").hidden = !(signedIn && session.admin);
  $("sign-out").hidden = !signedIn;
  $("who").hidden = !signedIn;
  if (signedIn) {
    $("who").textContent = `Signed in as ${session.email}${session.admin ? " (admin)" : ""}, user id ${session.userId}`;
    ownLog.load();
  }
}

// ---- photos --------------------------------------------------------------------------------

async function downscale(file) {
  // Phone photos are several MB; the API takes 2.5 MiB and the model looks at 224 px.
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // applies the EXIF orientation
  } catch {
    throw new ApiError(0, `${file.name} is not a photo this browser can read: choose a JPEG, PNG or WEBP.`);
  }
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  const dataUrl = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
  return { blob, base64: String(dataUrl).split(",")[1] };
}

// ---- the listing form: suggestions as the seller types --------------------------------------

const listing = { photo: null, timer: null, inFlight: null, predictionId: null };

function listingBody() {
  const body = { top_k: 5 };
  const title = $("title").value.trim();
  const description = $("description").value.trim();
  if (title) body.designation = title;
  if (description) body.description = description;
  if (listing.photo) body.photo = listing.photo.base64;
  return body;
}

function schedulePrediction(delay) {
  clearTimeout(listing.timer);
  listing.timer = setTimeout(predictNow, delay);
}

async function predictNow() {
  if (listing.inFlight) listing.inFlight.abort(); // a newer listing replaces the question
  const body = listingBody();
  if (!body.designation && !body.description && !body.photo) {
    $("suggestions").replaceChildren();
    $("suggestions-status").textContent = "Type a title or add a photo.";
    return;
  }
  const controller = new AbortController();
  listing.inFlight = controller;
  $("suggestions-status").textContent = "Asking the model…";
  try {
    const answer = await api("POST", "/predict", body, { signal: controller.signal });
    clearError();
    showSuggestions(answer);
  } catch (e) {
    if (e.name !== "AbortError") {
      $("suggestions-status").textContent = "No suggestions.";
      showError(e);
    }
  } finally {
    if (listing.inFlight === controller) listing.inFlight = null;
  }
}

function showSuggestions(answer) {
  listing.predictionId = answer.prediction_id;
  const used = answer.modalities.join(" and ");
  $("suggestions-status").textContent = `From the ${used} (model ${answer.model_version}). Choose the right one:`;
  const items = answer.predictions.map((p, rank) => {
    const item = document.createElement("li");
    const percent = Math.round(p.probability * 100);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice";
    button.dataset.code = p.code;
    button.setAttribute("aria-pressed", "false");
    const names = document.createElement("span");
    names.className = "names";
    const en = document.createElement("span");
    en.className = "name-en";
    en.textContent = p.name;
    const fr = document.createElement("span");
    fr.className = "name-fr";
    fr.lang = "fr";
    fr.textContent = p.name_fr;
    names.append(en, fr);
    const bar = document.createElement("meter");
    bar.min = 0;
    bar.max = 1;
    bar.value = p.probability;
    bar.setAttribute("aria-hidden", "true");
    const figure = document.createElement("span");
    figure.className = "percent";
    figure.textContent = `${percent} %`;
    button.append(names, bar, figure);
    button.setAttribute("aria-label", `${rank + 1}. ${p.name} (${p.name_fr}), ${percent} percent, code ${p.code}`);
    button.addEventListener("click", () => choose(p, button));
    item.append(button);
    return item;
  });
  $("suggestions").replaceChildren(...items);
}

async function choose(type, button) {
  clearError();
  try {
    await api("POST", "/feedback", { prediction_id: listing.predictionId, prdtypecode: type.code });
    for (const other of $("suggestions").querySelectorAll("button.choice")) {
      other.setAttribute("aria-pressed", String(other === button));
    }
    notice(`Saved: ${type.name} (${type.name_fr}).`);
    ownLog.load();
  } catch (e) {
    showError(e);
  }
}

async function usePhoto(file) {
  clearError();
  try {
    listing.photo = await downscale(file);
  } catch (e) {
    showError(e);
    return;
  }
  const preview = $("photo-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(listing.photo.blob);
  preview.hidden = false;
  $("photo-clear").hidden = false;
  schedulePrediction(0);
}

function clearPhoto() {
  listing.photo = null;
  $("photo").value = "";
  $("photo-preview").hidden = true;
  $("photo-clear").hidden = true;
  schedulePrediction(0);
  $("photo").focus();
}

// ---- logs ----------------------------------------------------------------------------------

class LogView {
  // One table of predictions, newest first, page by page with the API's next_token.
  constructor(container, caption) {
    this.container = container;
    this.caption = caption;
    this.userId = null;
    this.tokens = [null]; // next_token of each page seen so far
    this.page = 0;
  }

  async load(userId = this.userId, page = 0) {
    if (userId !== this.userId) this.tokens = [null];
    this.userId = userId;
    const query = new URLSearchParams({ limit: String(LOG_PAGE) });
    if (this.tokens[page]) query.set("next_token", this.tokens[page]);
    if (userId) query.set("user_id", userId);
    try {
      const answer = await api("GET", `/logs?${query}`);
      this.page = page;
      this.tokens[page + 1] = answer.next_token;
      this.show(answer.items, Boolean(answer.next_token));
    } catch (e) {
      showError(e);
    }
  }

  show(items, more) {
    const table = document.createElement("table");
    const caption = table.createCaption();
    caption.textContent = `${this.caption(this.userId)}, page ${this.page + 1}`;
    const head = table.createTHead().insertRow();
    for (const title of ["When", "Title", "Photo", "Top suggestion", "Chosen"]) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = title;
      head.append(cell);
    }
    const body = table.createTBody();
    for (const entry of items) {
      const row = body.insertRow();
      const top = entry.predictions[0];
      const cells = [
        new Date(entry.requested_at).toLocaleString(),
        entry.input.designation || "—",
        entry.input.photo_bytes ? `${Math.round(entry.input.photo_bytes / 1024)} KiB` : "—",
        top ? `${top.name} (${Math.round(top.probability * 100)} %)` : "—",
        entry.chosen_code == null ? "—" : nameOf(entry.chosen_code),
      ];
      for (const text of cells) row.insertCell().textContent = text;
    }
    const nav = document.createElement("nav");
    nav.setAttribute("aria-label", `${caption.textContent}: pages`);
    const newer = pageButton("Newer", this.page > 0, () => this.load(this.userId, this.page - 1));
    const older = pageButton("Older", more, () => this.load(this.userId, this.page + 1));
    nav.append(newer, older);
    const empty = document.createElement("p");
    empty.textContent = "No listings yet.";
    this.container.replaceChildren(items.length ? table : empty, nav);
  }
}

function pageButton(label, enabled, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.disabled = !enabled;
  button.addEventListener("click", action);
  return button;
}

function nameOf(code) {
  const type = config.productTypes.find((t) => t.code === code);
  return type ? `${type.name_en} (${code})` : String(code);
}

const ownLog = new LogView(document.querySelector("[data-log=own]"), () => "Your listings");
const userLog = new LogView(document.querySelector("[data-log=user]"), (id) => `Listings of ${id}`);

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  onSubmit($("sign-up-form"), async (form) => {
    const email = form.get("email");
    await api("POST", "/register", { email, password: form.get("password") }, { signedIn: false });
    $("confirm-email").value = email;
    $("sign-in-email").value = email;
    say(`Account created: enter the code sent to ${email}.`);
    $("confirm-code").focus();
  });
  onSubmit($("confirm-form"), async (form) => {
    const email = form.get("email");
    await api("POST", "/confirm", { email, code: form.get("code") }, { signedIn: false });
    $("sign-in-email").value = email;
    say("Email confirmed: sign in.");
    $("sign-in-password").focus();
  });
  onSubmit($("sign-in-form"), async (form) => {
    const tokens = await api("POST", "/login", { email: form.get("email"), password: form.get("password") }, { signedIn: false });
    $("sign-in-form").reset();
    startSession(tokens);
    say("");
    $("title").focus();
  });
  $("sign-out").addEventListener("click", () => {
    signOut();
    say("Signed out.");
    $("sign-in-email").focus();
  });

  for (const field of [$("title"), $("description")]) {
    field.addEventListener("input", () => schedulePrediction(PREDICT_DEBOUNCE_MS));
  }
  $("listing-form").addEventListener("submit", (event) => {
    event.preventDefault(); // Enter in the title asks at once
    schedulePrediction(0);
  });
  $("photo").addEventListener("change", () => {
    if ($("photo").files[0]) usePhoto($("photo").files[0]);
  });
  $("photo-clear").addEventListener("click", clearPhoto);
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) usePhoto(file);
  });

  $("history-refresh").addEventListener("click", () => ownLog.load(null, 0));

  for (const type of config.productTypes) {
    const option = document.createElement("option");
    option.value = type.code;
    option.textContent = `${type.code} ${type.name_en} / ${type.name_fr}`;
    $("product-type").append(option);
  }
  onSubmit($("product-form"), async (form) => {
    const body = { prdtypecode: Number(form.get("prdtypecode")) };
    for (const name of ["product_id", "designation", "description"]) {
      const value = String(form.get(name)).trim();
      if (value) body[name] = value;
    }
    const file = $("product-photo").files[0];
    if (file) body.photo = (await downscale(file)).base64;
    const stored = await api("POST", "/products", body);
    $("product-form").reset();
    say(`Product ${stored.product_id} stored (type ${nameOf(stored.prdtypecode)}) for the next training.`);
  });
  onSubmit($("delete-form"), async (form) => {
    const id = String(form.get("product_id")).trim();
    const removed = await api("DELETE", `/products/${encodeURIComponent(id)}`);
    $("delete-form").reset();
    say(`Product ${removed.product_id} removed: it is left out of training from the next run on.`);
  });
  onSubmit($("user-log-form"), async (form) => {
    await userLog.load(String(form.get("user_id")).trim(), 0);
  });
}

async function start() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json: ${response.status}`);
    config = await response.json();
  } catch (e) {
    showError(`the page has no configuration (${e.message}); it cannot reach the API`);
    return;
  }
  if (config.passwordRule) $("password-hint").textContent = `Use ${config.passwordRule}.`;
  wire();
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    session = null;
  }
  if (session) currentSession(); // an expired one is dropped with a notice
  render();
}

start();
