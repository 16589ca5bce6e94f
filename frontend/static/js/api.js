// Shared browser helpers: the REST API (session cookie + CSRF), WebSocket events, toasts.

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRFToken"] = cookie("csrftoken");
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, init);
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(data?.detail || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Multipart upload with progress (fetch has no upload progress events).
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new Error(data?.detail || `Upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new Error("The connection was lost during the upload."));
    xhr.send(formData);
  });
}

// A server refuses a socket by accepting it and closing with 4000 + an HTTP status (docs/api.md):
// 4401 not signed in, 4403 forbidden, 4404 not found, 4409 conflict… Retrying cannot change that.
export const isRefusal = (code) => code >= 4400 && code <= 4499;

const REFUSALS = {
  4401: "Sign in again to receive live updates.",
  4403: "You are not allowed to receive these live updates.",
  4404: "There is nothing here to receive live updates for.",
};

// Each connection first asks for a single-use ticket valid for seconds (POST /api/auth/ws-ticket/) and
// sends it as ?ticket=: no lasting secret in the URL. Without one (signed out, network) it connects
// with the session cookie alone and the server answers with its refusal code.
async function withTicket(url) {
  try {
    const { ticket } = await api("/api/auth/ws-ticket/", { method: "POST" });
    return `${url}${url.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}`;
  } catch {
    return url;
  }
}

// A WebSocket that reconnects with backoff; onMessage gets parsed JSON. A refusal (4400–4499) ends it:
// no reconnect, handle.refused becomes {code, reason}, and onRefused(code, reason) is called (without
// an onRefused the refusal is shown as a toast). onClose(event) is called whenever an open or
// opening connection drops and a reconnection is scheduled (pages show an offline state).
export function socket(path, onMessage, { onOpen, onRefused, onClose } = {}) {
  let ws; let delay = 500; let closed = false; let retry = null; let refused = null;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  const open = async () => {
    retry = null;
    if (closed) return;
    const ticketed = await withTicket(url);
    if (closed) return;
    ws = new WebSocket(ticketed);
    ws.onopen = () => { delay = 500; onOpen?.(handle); };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (closed) return;
      if (isRefusal(e.code)) {
        closed = true;
        refused = { code: e.code, reason: e.reason };
        if (onRefused) onRefused(e.code, e.reason);
        else toast(e.reason || REFUSALS[e.code] || `Live updates were refused (${e.code}).`, "error");
        return;
      }
      retry = setTimeout(open, delay); delay = Math.min(delay * 2, 8000);
      onClose?.(e);
    };
  };
  const handle = {
    send: (msg) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify(msg)),
    get ready() { return ws?.readyState === WebSocket.OPEN; },
    get refused() { return refused; },
    close: () => { closed = true; clearTimeout(retry); ws?.close(); },
  };
  open();
  return handle;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.textContent = message;
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 7000 : 3500);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}
