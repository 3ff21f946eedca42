// The controller's operator API (docs/api.md): authenticated JSON requests, and the live
// stream over a WebSocket with reconnection.

const TOKEN_KEY = "groundseg.token";
const UNAUTHENTICATED = 4401; // the stream's close code for a token it will not take

/** An answer other than 2xx: `detail` is what the server said is wrong, for the user. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.error)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.kind = (body && body.error) || "http";
    this.detail = detail;
    this.body = body || {};
  }
}

export class Api {
  /** @param {{onUnauthorized: (detail: string) => void}} hooks */
  constructor({ onUnauthorized }) {
    this.onUnauthorized = onUnauthorized;
  }

  // The token lives in sessionStorage: it survives a reload, not closing the tab.
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  async login(username, password) {
    const answer = await this.request("POST", "/api/login", { username, password }, { auth: false });
    this.token = answer.token;
    return answer;
  }

  async logout() {
    try {
      await this.request("POST", "/api/logout", {});
    } finally {
      this.token = null;
    }
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  async request(method, path, body, { auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.token) headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (err) {
      // The controller did not answer at all: say so in words an operator can act on.
      throw new ApiError(0, { error: "network", detail: `no answer from the controller (${err.message})` });
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { error: "http", detail: text.slice(0, 200) };
      }
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      // A login refused is the login form's business; any other 401 means the session is over.
      if (response.status === 401 && auth) {
        this.token = null;
        this.onUnauthorized(error.detail);
      }
      throw error;
    }
    return data;
  }
}

/**
 * The live stream: authenticates with its first message, delivers each message to
 * `onMessage`, and reconnects with backoff when the socket closes. `onLink` hears
 * "connecting" | "live" | "lost" (with the seconds until the next try).
 */
export class Stream {
  constructor({ api, onMessage, onLink }) {
    this.api = api;
    this.onMessage = onMessage;
    this.onLink = onLink;
    this.socket = null;
    this.stopped = true;
    this.failures = 0;
    this.retryTimer = null;
    this.lastError = "";
  }

  start() {
    this.stopped = false;
    this.failures = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000, "logout");
      this.socket = null;
    }
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/stream`);
    this.socket = socket;
    this.onLink("connecting");
    socket.onopen = () => socket.send(JSON.stringify({ token: this.api.token }));
    socket.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return; // a malformed frame is not worth dropping the link over
      }
      if (data.type === "error") {
        // The server explains itself before closing (bad token, too many streams).
        this.lastError = data.detail;
        return;
      }
      if (data.type === "snapshot") {
        this.failures = 0;
        this.lastError = "";
        this.onLink("live");
      }
      this.onMessage(data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // 4401: the session is over. Confirm with /api/me at once, which sends the user to
      // the login screen, instead of waiting out a backoff.
      if (event.code === UNAUTHENTICATED) {
        this.api.get("/api/me").then(
          () => this.retry(),
          (err) => err.status !== 401 && this.retry(),
        );
        return;
      }
      this.retry();
    };
    // onerror is always followed by onclose: the retry happens there.
    socket.onerror = () => {};
  }

  retry() {
    if (this.stopped) return;
    this.failures += 1;
    // 0.5 s, 1, 2, 4, then every 8 s, with jitter so many consoles do not reconnect in step.
    const base = Math.min(8, 0.5 * 2 ** (this.failures - 1));
    const delay = base * (0.8 + Math.random() * 0.4);
    this.onLink("lost", delay, this.lastError);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.checkThenConnect(), delay * 1000);
  }

  // The socket cannot tell us why it was refused: ask /api/me first, so an expired token
  // sends the user to the login screen (Api handles the 401) instead of looping.
  async checkThenConnect() {
    if (this.stopped) return;
    try {
      await this.api.get("/api/me");
    } catch (err) {
      if (err.status === 401) return;
      this.retry();
      return;
    }
    this.connect();
  }
}
