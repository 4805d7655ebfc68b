// The browser example in a real browser: Debian's chromium, headless,
// driven by playwright-core (pinned in tests/browser/package.json and
// installed by scripts/setup.sh into ~/.cache/ferry/playwright).
// Runs `ferry run` on the example's config with a free port, opens the
// chat page in three browser contexts and checks: a line posted on one
// page reaches the component and comes back to every page (fan-out); a
// page opened later gets it from the component's history (request-reply);
// a page that goes offline queues a post and delivers it on reconnect.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (ctest sets it; see tests/CMakeLists.txt)`);
  return v;
};
const FERRY = env("FERRY_BINARY");
const CONFIG = env("FERRY_BROWSER_CONFIG");
const CHROMIUM = env("CHROMIUM");
const PLAYWRIGHT_DIR = env("PLAYWRIGHT_DIR");
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh`);
if (!fs.existsSync(path.join(PLAYWRIGHT_DIR, "node_modules", "playwright-core")))
  throw new Error(`playwright-core is missing from ${PLAYWRIGHT_DIR}: run scripts/setup.sh`);
const { chromium } = createRequire(path.join(PLAYWRIGHT_DIR, "package.json"))("playwright-core");

const log = (...a) => console.log("[browser]", ...a);
const deadline = (ms) => Date.now() + ms;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitFor(what, check, ms = 30000) {
  const end = deadline(ms);
  let last;
  while (Date.now() < end) {
    try { if (await check()) return; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-browser-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const config = fs.readFileSync(CONFIG, "utf8")
  .replace('websocket = "127.0.0.1:8787"', `websocket = "127.0.0.1:${port}"`);
assert.ok(config.includes(`websocket = "127.0.0.1:${port}"`), 'the example config sets websocket = "127.0.0.1:8787"');
fs.writeFileSync(path.join(dir, "ferry.toml"), config);

const ferry = spawn(FERRY, ["-v", "run", "--config", path.join(dir, "ferry.toml")], { stdio: ["ignore", "inherit", "inherit"] });
let ferryExited = null;
ferry.on("exit", (code, signal) => { ferryExited = code ?? signal; });
let browser;
try {
  await waitFor("ferry's gateway", async () => {
    if (ferryExited !== null) throw new Error(`ferry exited (${ferryExited})`);
    return (await fetch(`${base}/ferry-client.js`)).ok;
  }, 60000);
  log(`ferry serves ${base}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  const open = async (name) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on("console", (m) => log(`${name} console: ${m.text()}`));
    page.on("pageerror", (e) => log(`${name} error: ${e.message}`));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.chat?.historyLoaded && window.chat.ferry.status === "open", null, { timeout: 30000 });
    return { context, page };
  };
  const lines = (p) => p.page.evaluate(() => window.chat.lines);
  const say = async (p, who, text) => {
    await p.page.fill("#name", who);
    await p.page.fill("#text", text);
    await p.page.click("#send");
  };

  const a = await open("A");
  const b = await open("B");
  log("two pages open and subscribed");

  // Fan-out: A's line goes through the component to both pages.
  await say(a, "alice", "hello from A");
  for (const p of [a, b])
    await waitFor("the line on every page", async () => (await lines(p)).includes("alice: hello from A"));
  assert.equal(await a.page.evaluate(() => window.chat.acked), 1);
  log("fan-out: both pages show alice's line");

  // Request-reply: a page opened now gets the history from the component.
  const c = await open("C");
  assert.ok((await lines(c)).includes("alice: hello from A"), "history holds the earlier line");
  log("request-reply: a late page got the history");

  // Offline and back: the connection drops, a post waits in the queue,
  // and goes out (acknowledged, and seen by the others) on reconnect.
  await a.context.setOffline(true);
  await a.page.evaluate(() => window.chat.ferry.ws?.close());
  await waitFor("A to notice it is offline", async () => (await a.page.evaluate(() => window.chat.ferry.status)) !== "open");
  await say(a, "alice", "sent while offline");
  assert.equal(await a.page.evaluate(() => window.chat.ferry.queued), 1, "the post waits in the queue");
  assert.equal(await a.page.evaluate(() => window.chat.acked), 1, "not acknowledged while offline");
  // Reconnect attempts fail while offline; give them a few tries.
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(await a.page.evaluate(() => window.chat.ferry.status), "open", "offline emulation held");
  assert.ok(!(await lines(b)).includes("alice: sent while offline"), "nothing left A while offline");
  log("offline: the post is queued");

  await a.context.setOffline(false);
  for (const p of [a, b, c])
    await waitFor("the queued line on every page", async () => (await lines(p)).includes("alice: sent while offline"));
  await waitFor("the ack", async () => (await a.page.evaluate(() => window.chat.acked)) === 2);
  assert.equal(await a.page.evaluate(() => window.chat.ferry.queued), 0);
  assert.deepEqual(await a.page.evaluate(() => window.chat.failed), []);
  const seen = (await lines(b)).filter((l) => l === "alice: sent while offline").length;
  assert.equal(seen, 1, "delivered once");
  log("back online: the queued post was delivered, acknowledged, and seen by the other pages");

  // The offline queue is bounded: past maxQueued a publish is refused at
  // once, not held. (A client of a gateway nobody serves stays offline.)
  const refused = await a.page.evaluate(async () => {
    const { connect } = await import("/ferry-client.js");
    const offline = connect({ url: "ws://127.0.0.1:1/", maxQueued: 2 });
    offline.publish("chat.post", "one").catch(() => {});
    offline.publish("chat.post", "two").catch(() => {});
    const third = await offline.publish("chat.post", "three").then(() => "accepted", (e) => e.code);
    const queued = offline.queued;
    offline.close();
    return { third, queued };
  });
  assert.deepEqual(refused, { third: "queue-full", queued: 2 });
  log("the offline queue refuses past maxQueued");
  log("PASS");
} finally {
  await browser?.close().catch(() => {});
  ferry.kill("SIGTERM");
  await new Promise((r) => (ferryExited !== null ? r() : ferry.once("exit", r)));
  fs.rmSync(dir, { recursive: true, force: true });
}
