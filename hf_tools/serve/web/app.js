// The chat page of hf-tools serve: plain JS, no build step, no inline code (the page
// is served with a Content-Security-Policy of 'self'). It speaks the server's API with fetch:
// POST /sessions, POST /sessions/{id}/messages with "stream": true (read as Server-Sent
// Events from the response body: EventSource cannot POST nor send the key), GET
// /sessions/{id} to show the conversation again after a reload, and the artifacts' URLs,
// fetched with the key and shown as blob: URLs.

const KEY_ITEM = "hf-tools.api-key";
const SESSION_ITEM = "hf-tools.session";
const MAX_RESUMES = 5; // a dropped stream is picked up again at most this often per turn
const ARG_CHARS = 80; // per argument in a tool step's summary
const PREVIEW_CHARS = 400; // of a tool's result

const $ = (id) => document.getElementById(id);
const log = $("log");
const composer = $("composer");
const input = $("message");
const sendButton = $("send");
const statusLine = $("status");
const keyBox = $("key-box");
const keyInput = $("api-key");
const blobUrls = []; // revoked when the conversation is cleared

/** An API answer other than 2xx, with the server's stable code and message. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// --- API -----------------------------------------------------------------------------------

function authHeaders() {
  const key = localStorage.getItem(KEY_ITEM);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    throw await apiError(response);
  }
  return response;
}

async function apiError(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  let code = `http_${response.status}`;
  try {
    const data = await response.json();
    message = data.error || message;
    code = data.code || code;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  return new ApiError(response.status, code, message);
}

function sessionPath(session) {
  return `/sessions/${encodeURIComponent(session)}`;
}

async function ensureSession() {
  let session = localStorage.getItem(SESSION_ITEM);
  if (!session) {
    const response = await api("POST", "/sessions", {});
    session = (await response.json()).id;
    localStorage.setItem(SESSION_ITEM, session);
  }
  return session;
}

// --- Server-Sent Events from a fetch body --------------------------------------------------

/** Yields {name, id, data} per event; comments (heartbeats) are skipped, data is parsed JSON. */
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      // Normalize line ends, but keep a trailing \r: its \n may come with the next chunk.
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      buffer = buffer.slice(0, cut).replace(/\r\n?/g, "\n") + buffer.slice(cut);
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) {
          yield event;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseEvent(block) {
  let name = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) {
      continue; // a comment: the server's heartbeat
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    if (field === "event") {
      name = value;
    } else if (field === "data") {
      data.push(value);
    } else if (field === "id") {
      id = value;
    }
  }
  if (id === null && data.length === 0) {
    return null;
  }
  return { name, id, data: data.length ? JSON.parse(data.join("\n")) : null };
}

// --- Rendering -----------------------------------------------------------------------------

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) {
    el.className = className;
  }
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
}

/** Keeps the newest message in view unless the reader scrolled up. */
function follow(wasNearBottom) {
  if (wasNearBottom) {
    window.scrollTo(0, document.body.scrollHeight);
  }
}

function addTurn(role) {
  $("empty").hidden = true;
  const li = element("li", `turn ${role}`);
  li.append(element("span", "visually-hidden", role === "user" ? "You:" : "Assistant:"));
  log.append(li);
  return li;
}

function addUserTurn(text) {
  const atBottom = nearBottom();
  addTurn("user").append(element("p", "text", text));
  follow(atBottom);
}

function clip(text, limit) {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function summarizeArgs(args) {
  return Object.entries(args || {})
    .map(([key, value]) => {
      const shown = typeof value === "string" ? value : JSON.stringify(value);
      return `${key}: ${clip(shown, ARG_CHARS)}`;
    })
    .join(", ");
}

/** One assistant reply: text blocks, tool steps and artifacts in the order they happen. */
class AssistantTurn {
  constructor() {
    this.el = addTurn("assistant");
    this.text = null; // the text block tokens go to; a tool step starts a new one
    this.tools = new Map(); // call_id -> tool step element
    this.setState("streaming");
  }

  setState(state) {
    this.el.dataset.state = state;
    log.setAttribute("aria-busy", String(state === "streaming"));
  }

  append(node) {
    const atBottom = nearBottom();
    this.el.append(node);
    follow(atBottom);
    return node;
  }

  token(text) {
    const atBottom = nearBottom();
    if (!this.text) {
      this.text = this.append(element("p", "text"));
    }
    this.text.textContent += text;
    follow(atBottom);
  }

  toolStep(name, args) {
    this.text = null;
    const step = element("div", "tool");
    step.dataset.name = name;
    step.dataset.state = "running";
    const head = element("p", "tool-head");
    head.append(element("span", "tool-name", name));
    const summary = summarizeArgs(args);
    if (summary) {
      head.append(" ", element("code", "tool-args", summary));
    }
    head.append(" ", element("span", "tool-status", "running…"));
    step.append(head);
    return this.append(step);
  }

  toolStart(data) {
    this.tools.set(data.call_id, this.toolStep(data.name, data.args));
  }

  toolEnd(data, step = this.tools.get(data.call_id)) {
    const target = step || this.toolStep(data.name, null);
    const failed = data.status === "error";
    target.dataset.state = failed ? "error" : "done";
    target.querySelector(".tool-status").textContent = failed ? "failed" : "done";
    if (data.content) {
      target.append(element("pre", "tool-result", clip(data.content, PREVIEW_CHARS)));
    }
  }

  /** The answer the server settled on: replaces what streamed, which may differ (or be none). */
  answer(text) {
    if (text) {
      if (!this.text) {
        this.text = this.append(element("p", "text"));
      }
      this.text.textContent = text;
    }
  }

  async final(data, session) {
    this.answer(data.answer);
    if (!data.answer && data.stopped_reason && data.stopped_reason !== "answer") {
      this.append(element("p", "note", `The agent stopped: ${data.stopped_reason}.`));
    }
    await this.artifacts(data.artifacts, session);
    this.setState("done");
  }

  async artifacts(list, session) {
    await Promise.all((list || []).map((artifact) => this.artifact(artifact, session)));
  }

  /** Shows an artifact next to the step of the tool that made it, fetched with the key. */
  async artifact(artifact, session) {
    const atBottom = nearBottom();
    const steps = [...this.el.querySelectorAll(".tool")];
    const step = steps.find((s) => s.dataset.name === artifact.tool && !s.dataset.artifact);
    const figure = element("figure", "artifact");
    if (step) {
      step.dataset.artifact = "shown";
      step.append(figure);
    } else {
      this.el.insertBefore(figure, this.text); // before the answer that talks about it
    }
    const caption = `${artifact.type || "output"} from ${artifact.tool}`;
    const url = artifact.url || (artifact.id && `${sessionPath(session)}/artifacts/${artifact.id}`);
    if (!url) {
      figure.append(element("figcaption", "", `${caption} (this server does not serve it)`));
      return;
    }
    try {
      const response = await api("GET", url);
      const blob = await response.blob();
      const src = URL.createObjectURL(blob);
      blobUrls.push(src);
      const type = blob.type || artifact.content_type || "";
      let media;
      if (type.startsWith("image/")) {
        media = element("img");
        media.alt = `Image from ${artifact.tool}`;
        media.src = src;
        await media.decode().catch(() => {}); // shown anyway; its size is known before we go on
      } else if (type.startsWith("audio/")) {
        media = element("audio");
        media.controls = true;
        media.src = src;
      } else {
        media = element("a", "", "Download");
        media.href = src;
        media.download = `${artifact.tool}-${artifact.id || "output"}`;
      }
      figure.append(media, element("figcaption", "", caption));
    } catch (err) {
      figure.append(element("figcaption", "error", `${caption}: ${err.message}`));
    }
    follow(atBottom);
  }

  error(message, code) {
    const p = element("p", "error", code ? `Error (${code}): ${message}` : `Error: ${message}`);
    p.setAttribute("role", "alert");
    this.append(p);
    this.setState("error");
  }
}

/** Renders a stored conversation (GET /sessions/{id}). */
async function renderHistory(messages, session) {
  let turn = null;
  const pending = [];
  for (const message of messages) {
    if (message.role === "human") {
      addUserTurn(message.content);
      turn = null;
      continue;
    }
    turn = turn || new AssistantTurn();
    if (message.role === "tool") {
      const step = turn.toolStep(message.name || "tool", message.args);
      turn.toolEnd({ content: message.content, status: message.status || "success" }, step);
    } else if (message.content) {
      turn.text = null;
      turn.answer(message.content);
    }
    if (message.artifacts && message.artifacts.length) {
      pending.push(turn.artifacts(message.artifacts, session));
    }
    turn.setState("done");
  }
  await Promise.all(pending);
}

function clearConversation() {
  log.replaceChildren();
  blobUrls.splice(0).forEach((url) => URL.revokeObjectURL(url));
  $("empty").hidden = false;
}

function setStatus(text) {
  statusLine.textContent = text;
}

function askForKey(message) {
  setStatus(`${message}: enter this server's API key under "API key".`);
  keyBox.open = true;
  keyInput.focus();
}

function showKeyState() {
  $("key-summary").textContent = localStorage.getItem(KEY_ITEM) ? "API key (saved)" : "API key";
}

// --- A turn --------------------------------------------------------------------------------

/** Runs the events of one stream into the turn; true once it saw the last event. */
async function play(response, turn, session, position) {
  for await (const event of sseEvents(response.body)) {
    if (event.id !== null) {
      position.lastId = event.id;
    }
    const data = event.data;
    if (data === null) {
      continue;
    }
    if (event.name === "token") {
      turn.token(data.text);
    } else if (event.name === "tool_start") {
      turn.toolStart(data);
    } else if (event.name === "tool_end") {
      turn.toolEnd(data);
    } else if (event.name === "final") {
      await turn.final(data, session);
      return true;
    } else if (event.name === "error") {
      turn.error(data.error, data.code);
      return true;
    }
  }
  return false;
}

/** Reads the turn's stream; a dropped one resumes after the last event id it carried. */
async function readTurn(response, turn, session) {
  const position = { lastId: null };
  let current = response;
  for (let attempt = 0; ; attempt += 1) {
    try {
      if (current && (await play(current, turn, session, position))) {
        return;
      }
    } catch (err) {
      if (!(err instanceof TypeError)) {
        throw err; // not the network: a bad event, a page bug
      }
    }
    if (position.lastId === null || attempt >= MAX_RESUMES) {
      throw new Error("the connection closed before the answer came; send the message again");
    }
    // The turn goes on on the server: wait a little, then take its events from where we were.
    await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    const after = encodeURIComponent(position.lastId);
    current = await api("GET", `${sessionPath(session)}/events?after=${after}`).catch((err) => {
      if (err instanceof ApiError) {
        throw err;
      }
      return null; // still offline: try again
    });
  }
}

/** Posts the message to the saved session, or to a new one if the server has no such session. */
async function postMessage(text) {
  const body = { message: text, stream: true };
  const session = await ensureSession();
  try {
    return { session, response: await api("POST", `${sessionPath(session)}/messages`, body) };
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "session_not_found")) {
      throw err;
    }
  }
  // Deleted elsewhere, or made under another key: only POST /sessions makes one.
  localStorage.removeItem(SESSION_ITEM);
  setStatus("The saved conversation is gone; this message starts a new one.");
  const fresh = await ensureSession();
  return { session: fresh, response: await api("POST", `${sessionPath(fresh)}/messages`, body) };
}

async function sendMessage(text) {
  sendButton.disabled = true;
  setStatus("");
  addUserTurn(text);
  const turn = new AssistantTurn();
  try {
    const { session, response } = await postMessage(text);
    await readTurn(response, turn, session);
  } catch (err) {
    turn.error(err.message, err.code);
    if (err instanceof ApiError && err.status === 401) {
      askForKey(err.message);
    }
  } finally {
    sendButton.disabled = false;
  }
}

// --- Wiring --------------------------------------------------------------------------------

async function restore() {
  const session = localStorage.getItem(SESSION_ITEM);
  if (!session) {
    return;
  }
  try {
    const response = await api("GET", sessionPath(session));
    clearConversation();
    await renderHistory((await response.json()).messages, session);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      localStorage.removeItem(SESSION_ITEM);
      setStatus("The saved conversation is gone; your next message starts a new one.");
    } else if (err instanceof ApiError && err.status === 401) {
      askForKey(err.message);
    } else {
      setStatus(`Could not load the conversation: ${err.message}`);
    }
  }
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || sendButton.disabled) {
    return;
  }
  input.value = "";
  sendMessage(text);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key) {
    localStorage.setItem(KEY_ITEM, key);
  } else {
    localStorage.removeItem(KEY_ITEM);
  }
  keyInput.value = "";
  keyBox.open = false;
  showKeyState();
  setStatus(key ? "Key saved." : "Key removed.");
  if (!log.children.length) {
    restore();
  }
  input.focus();
});

$("new-chat").addEventListener("click", () => {
  localStorage.removeItem(SESSION_ITEM);
  clearConversation();
  setStatus("New conversation.");
  input.focus();
});

showKeyState();
restore().finally(() => {
  document.body.dataset.ready = "true"; // for tests: the page has shown what it had
});
