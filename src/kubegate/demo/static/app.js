// The demo webapp's client. Every URL is resolved against the page's own address, so the app
// works unchanged under a proxy prefix such as /api/v1/namespaces/kube-system/services/webapp:http-web/proxy/.
"use strict";

const apiUrl = new URL("api/items", document.baseURI);
const wsUrl = new URL("ws", document.baseURI);
wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";

const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("items-error");
  box.textContent = message;
  box.hidden = !message;
}

function renderItems(items) {
  const list = $("items");
  list.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item.name; // textContent, never innerHTML: names are user input
      li.title = `#${item.id}, added ${item.created}`;
      return li;
    }),
  );
  if (items.length === 0) {
    list.innerHTML = '<li class="muted">No items yet.</li>';
  }
}

async function loadItems() {
  try {
    const response = await fetch(apiUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`GET api/items answered ${response.status}`);
    renderItems(await response.json());
    showError("");
  } catch (error) {
    showError(String(error));
  }
}

async function addItem(event) {
  event.preventDefault();
  const input = $("item-name");
  try {
    const response = await fetch(apiUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name: input.value }),
    });
    if (!response.ok) {
      const detail = await response.json().catch(() => ({}));
      throw new Error(detail.error || `POST api/items answered ${response.status}`);
    }
    input.value = "";
    await loadItems();
  } catch (error) {
    showError(String(error));
  }
}

function logMessage(direction, text) {
  const li = document.createElement("li");
  li.className = direction;
  li.textContent = text;
  $("ws-log").prepend(li);
}

function connectWebSocket() {
  const socket = new WebSocket(wsUrl);
  socket.addEventListener("open", () => { $("ws-status").textContent = "connected"; });
  socket.addEventListener("message", (event) => logMessage("in", event.data));
  socket.addEventListener("close", (event) => {
    $("ws-status").textContent = `closed (${event.code}); reconnecting in 3 s`;
    setTimeout(connectWebSocket, 3000);
  });
  $("ws-send").onsubmit = (event) => {
    event.preventDefault();
    const input = $("ws-message");
    if (socket.readyState === WebSocket.OPEN && input.value) {
      socket.send(input.value);
      logMessage("out", input.value);
      input.value = "";
    }
  };
}

$("page-url").textContent = location.href;
$("api-url").textContent = apiUrl.href;
$("ws-url").textContent = wsUrl.href;
$("prefix-warning").hidden = location.pathname.endsWith("/");
$("add-item").addEventListener("submit", addItem);
loadItems();
connectWebSocket();
