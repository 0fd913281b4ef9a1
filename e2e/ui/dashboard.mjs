// Signs in with the owner token, reads the Overview and the Pools page (with a pool made
// through the API), signs out; once with JavaScript (hydrated when a bundle is served) and
// once without. Fails on any console error or failed page request.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.HEARTH_URL;
const token = process.env.HEARTH_TOKEN;
const shots = process.env.SCREENSHOTS;

async function api(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const poolName = `ui-pool-${Date.now()}`;
await api("POST", "/pools", { name: poolName, profile: "docker-batch", instanceCount: 1 });

// When `check` first holds, polled every 25 ms (rejects after `limit` ms).
async function when(check, limit, what) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() - start > limit) throw new Error(`not within ${limit} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

async function run(javaScript) {
  const label = javaScript ? "js" : "nojs";
  const context = await browser.newContext({ javaScriptEnabled: javaScript });
  const page = await context.newPage();
  const problems = [];
  // Server-function calls: only a hydrated page makes them (client-side navigation).
  const serverFnCalls = [];
  page.on("request", (r) => r.url().includes("/ui/fn/") && serverFnCalls.push(r.url()));
  page.on("console", (m) => m.type() === "error" && problems.push(`console at ${page.url()}: ${m.text()} ${m.location().url ?? ""}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // With JavaScript off the browser cancels the bundle's module preload: not a fault.
    if (!javaScript && r.url().includes("/pkg/")) return;
    // Leaving a live page closes its event stream: the browser reports it aborted.
    if (r.url().includes("/events") && /ABORTED/.test(r.failure()?.errorText ?? "")) return;
    problems.push(`request failed: ${r.url()}`);
  });
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));

  // With JavaScript the bundle loads after each page: let it finish before the next click
  // (a navigation would abort it halfway).
  const settle = () => (javaScript ? page.waitForLoadState("networkidle") : Promise.resolve());

  // A browser asking for / lands on the sign-in form.
  await page.goto(base + "/");
  await page.waitForURL(/\/ui\/sign-in$/);
  await settle();
  await page.screenshot({ path: `${shots}/sign-in-${label}.png`, fullPage: true });

  // A wrong token: the one message, still signed out.
  await page.getByLabel("API token").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/refused=1/);
  await settle();
  await page.getByRole("alert").filter({ hasText: "Sign-in refused" }).waitFor();

  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/ui\/?$/);
  await settle();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  for (const tile of ["Busy slots", "Idle slots", "Booting slots", "Queued instances", "Running tasks"]) {
    await page.getByRole("group", { name: tile }).waitFor();
  }
  await page.getByRole("heading", { name: "Pools by state" }).waitFor();
  await page.screenshot({ path: `${shots}/overview-${label}.png`, fullPage: true });

  await page.getByRole("link", { name: "Pools" }).click();
  await page.waitForURL(/\/ui\/pools$/);
  await settle();
  const row = page.getByRole("row", { name: new RegExp(poolName) });
  await row.waitFor();
  assert.match(await row.innerText(), /docker-batch/);
  await page.screenshot({ path: `${shots}/pools-${label}.png`, fullPage: true });
  if (javaScript) {
    assert.ok(serverFnCalls.length > 0, "the hydrated page navigated without calling a server function");
  }

  // The pool's own page, from its row.
  await row.getByRole("link", { name: poolName }).click();
  await page.waitForURL(/\/ui\/pools\/[0-9a-f-]{36}$/);
  await settle();
  await page.getByRole("heading", { name: poolName }).waitFor();
  await page.getByRole("heading", { name: "Slot map" }).waitFor();
  await page.getByRole("heading", { name: "Scaling decisions" }).waitFor();
  await page.screenshot({ path: `${shots}/pool-${label}.png`, fullPage: true });

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/ui\/sign-in$/);
  await settle();
  // The session is gone: the Overview sends the browser back to the form.
  await page.goto(base + "/ui/");
  await page.waitForURL(/\/ui\/sign-in$/);
  await settle();

  // The refused sign-in's page answered 303 then 200; only real failures count.
  assert.deepEqual(problems, [], `${label}: ${problems.join("\n")}`);
  await context.close();
  console.log(`dashboard (${label}): sign-in, overview, pools, sign-out ok`);
}

// The pool page, live: a pool of one node of 4 slots; a task of 2 instances turns two slots
// busy and back to idle. Each change is timed twice, as the API reports it (polled) and
// as the page shows it (no reload): the page must follow within a second.
async function poolPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console at ${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  let loads = 0;
  page.on("load", () => loads++);

  const name = `ui-live-${Date.now()}`;
  const pool = await api("POST", "/pools", {
    name, profile: "docker-batch", instanceCount: 1, multiSlotsSettings: { slotsPerNode: 4 },
  });
  await page.goto(base + "/ui/sign-in");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/ui\/?$/);
  await page.goto(`${base}/ui/pools/${pool.uuid}`);
  await page.waitForLoadState("networkidle");
  await page.getByRole("heading", { name }).waitFor();
  const loadsBefore = loads;

  const slots = (word) => page.locator(`.slots [aria-label*=": ${word}"]`).count();
  const apiBusy = async () => {
    const nodes = (await api("GET", `/pools/${pool.uuid}/nodes`)).items;
    return nodes.reduce((n, node) => n + (node.state === "Ready" ? node.busySlots : 0), 0);
  };
  // The node comes up: four idle slots, each saying so in words.
  await when(async () => (await slots("idle")) === 4, 30000, "4 idle slots");
  const idle = page.getByRole("img", { name: /^slot 1 of node [0-9a-f]{4}: idle$/ });
  await idle.focus();
  await page.screenshot({ path: `${shots}/pool-idle.png`, fullPage: true });

  const task = await api("POST", "/tasks", {
    name: "hello", poolUuid: pool.uuid, instanceCount: 2,
    constants: [{ key: "DOCKER_CMD", value: "sleep 3" }],
  });
  const [apiSawBusy, pageSawBusy] = await Promise.all([
    when(async () => (await apiBusy()) === 2, 20000, "the API shows 2 busy slots"),
    when(async () => (await slots("busy")) === 2, 20000, "the page shows 2 busy slots"),
  ]);
  const busy = page.getByRole("link", { name: /^slot \d of node [0-9a-f]{4}: busy, task hello, instance \d, (\d+ s|starting)$/ });
  await busy.first().waitFor();
  await busy.first().focus();
  await page.screenshot({ path: `${shots}/pool-busy.png`, fullPage: true });
  const [apiSawIdle, pageSawIdle] = await Promise.all([
    when(async () => (await apiBusy()) === 0, 20000, "the API shows no busy slot"),
    when(async () => (await slots("busy")) === 0 && (await slots("idle")) === 4, 20000, "the page shows 4 idle slots"),
  ]);
  const lagBusy = pageSawBusy - apiSawBusy;
  const lagIdle = pageSawIdle - apiSawIdle;
  console.log(`pool page: busy shown ${lagBusy} ms after the API, idle ${lagIdle} ms after`);
  assert.ok(lagBusy < 1000 && lagIdle < 1000, `the page lagged: ${lagBusy} ms, ${lagIdle} ms`);
  assert.equal(loads, loadsBefore, "the page reloaded");
  await when(async () => (await api("GET", `/tasks/${task.uuid}`)).state === "Success", 5000, "the task succeeded");

  // "Resize now": the decision and its reason, in words, and on the timeline.
  const decisionsBefore = await page.locator(".timeline li").count();
  await page.getByRole("button", { name: "Resize now", exact: true }).click();
  const said = page.getByRole("status");
  await said.waitFor();
  assert.match(await said.innerText(), /^(grew \d+ → \d+|shrank \d+ → \d+|held at \d+): \S/);
  await when(async () => (await page.locator(".timeline li").count()) >= Math.max(1, decisionsBefore), 5000, "a decision on the timeline");
  await page.getByRole("link", { name: "Changes only" }).click();
  await page.waitForURL(/changes=1/);
  await page.screenshot({ path: `${shots}/pool-decisions.png`, fullPage: true });

  // A viewer: the same page without write controls, and a forged write is refused.
  const viewer = await api("POST", "/tokens", { name: "ui viewer", role: "viewer" });
  const asViewer = await browser.newContext();
  const vpage = await asViewer.newPage();
  vpage.on("pageerror", (e) => problems.push(`viewer page error: ${e.message}`));
  await vpage.goto(base + "/ui/sign-in");
  await vpage.getByLabel("API token").fill(viewer.token);
  await vpage.getByRole("button", { name: "Sign in" }).click();
  await vpage.waitForURL(/\/ui\/?$/);
  await vpage.goto(`${base}/ui/pools/${pool.uuid}`);
  await vpage.getByRole("heading", { name }).waitFor();
  assert.equal(await vpage.getByRole("button", { name: "Resize now" }).count(), 0);
  assert.equal(await vpage.getByText("Close pool").count(), 0);
  const forged = await vpage.request.post(`${base}/ui/fn/close_pool`, {
    form: { id: pool.uuid }, headers: { Accept: "application/json" },
  });
  assert.equal(forged.status(), 403, `a viewer's forged close answered ${forged.status()}`);
  assert.equal((await api("GET", `/pools/${pool.uuid}`)).state !== "Closing", true);
  await vpage.screenshot({ path: `${shots}/pool-viewer.png`, fullPage: true });
  await asViewer.close();

  // Closing asks first, then the page follows the pool to closing or closed.
  await page.getByText("Close pool…").click();
  await page.getByRole("button", { name: "Close pool", exact: true }).click();
  await when(async () => /clos/.test(await page.locator(".page-head .badge").innerText()), 5000, "the pool shown closing");
  const closed = await api("GET", `/pools/${pool.uuid}`);
  assert.ok(["Closing", "Closed"].includes(closed.state), closed.state);

  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log("dashboard: pool page live, resize, viewer, close ok");
}

try {
  await run(true);
  await run(false);
  await poolPage();
} finally {
  await browser.close();
}
