// The chat page: posts to chat.post, shows chat.room, and asks
// chat.history for what was said before it opened.
import { connect } from "/ferry-client.js";

const ferry = connect();
const $ = (id) => document.getElementById(id);
const state = { ferry, lines: [], acked: 0, failed: [] };
window.chat = state;  // for tests and the console

function show(text) {
  state.lines.push(text);
  const li = document.createElement("li");
  li.textContent = text;
  $("lines").append(li);
}

function showQueued() {
  $("queued").textContent = ferry.queued ? `${ferry.queued} waiting to be sent` : "";
}

ferry.onStatus(async (status) => {
  $("status").textContent = status;
  $("status").className = status;
  showQueued();
});

// Subscribe first, then ask for the history: a line posted in between
// shows up twice at worst, never not at all.
const room = ferry.subscribe("chat.room", (m) => show(m.text));
room.ready.then(async () => {
  const [history] = await ferry.request("chat.history", "", { timeout: 3000 });
  const earlier = history.text ? history.text.split("\n") : [];
  for (const line of earlier.reverse()) {
    if (state.lines.includes(line)) continue;
    state.lines.unshift(line);
    const li = document.createElement("li");
    li.textContent = line;
    $("lines").prepend(li);
  }
  state.historyLoaded = true;
}).catch((e) => console.error("chat history:", e));

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  ferry.publish("chat.post", `${$("name").value}: ${text}`)
    .then(() => { state.acked++; showQueued(); })
    .catch((e) => { state.failed.push(e.message); console.error(e); });
  showQueued();
});
