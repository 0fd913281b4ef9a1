// Signs in with the owner token, reads the Overview, the Pools page (with a pool made
// through the API), a pool's page and the tasks list, signs out; once with JavaScript (hydrated when a bundle is served) and
// once without. Fails on any console error or failed page request.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

const base = process.env.HEARTH_URL;
const token = process.env.HEARTH_TOKEN;
const operatorToken = process.env.HEARTH_OPERATOR_TOKEN;
const shots = process.env.SCREENSHOTS;

async function api(method, path, body, as = token) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${as}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const poolName = `ui-pool-${Date.now()}`;
const firstPool = (await api("POST", "/pools", { name: poolName, profile: "docker-batch", instanceCount: 1 })).uuid;

// When `check` first holds, polled every 25 ms (rejects after `limit` ms).
async function when(check, limit, what) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() - start > limit) throw new Error(`not within ${limit} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// axe-core's findings of impact serious or critical, per page scanned (WCAG 2.x A and AA
// rules and axe's best practices); the run fails when any page has one.
const accessibility = [];
async function scan(page, what) {
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  });
  accessibility.push({ what, found });
}

// Signs a page in with a token through the form.
async function signIn(page, withToken) {
  await page.goto(base + "/ui/sign-in");
  await page.getByLabel("API token").fill(withToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/ui\/?$/);
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
  let signingOut = false;
  // Server-function calls: only a hydrated page makes them (client-side navigation).
  const serverFnCalls = [];
  page.on("request", (r) => r.url().includes("/ui/fn/") && serverFnCalls.push(r.url()));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const where = m.location().url ?? "";
    // The browser also logs the expected 401 of a read cut short by signing out.
    if (signingOut && /status of 401/.test(m.text()) && where.includes("/ui/fn/")) return;
    problems.push(`console at ${page.url()}: ${m.text()} ${where}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // With JavaScript off the browser cancels the bundle's module preload: not a fault.
    if (!javaScript && r.url().includes("/pkg/")) return;
    // Leaving a live page closes its event stream: the browser reports it aborted.
    if (r.url().includes("/events") && /ABORTED/.test(r.failure()?.errorText ?? "")) return;
    problems.push(`request failed: ${r.url()}`);
  });
  // Once signing out, a read the live page was still making may answer 401 (signed out):
  // that is the right answer, not a fault. Anything else still counts.
  const expected = (r) => signingOut && r.status() === 401 && r.url().includes("/ui/fn/");
  page.on("response", (r) => r.status() >= 400 && !expected(r) && problems.push(`${r.status()} ${r.url()}`));

  // With JavaScript the bundle loads after each page: let it finish before the next click
  // (a navigation would abort it halfway).
  const settle = () => (javaScript ? page.waitForLoadState("networkidle") : Promise.resolve());

  // A browser asking for / lands on the sign-in form.
  await page.goto(base + "/");
  await page.waitForURL(/\/ui\/sign-in$/);
  await settle();
  await page.screenshot({ path: `${shots}/sign-in-${label}.png`, fullPage: true });
  if (javaScript) await scan(page, "sign-in");

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
  if (javaScript) await scan(page, "overview");

  await page.getByRole("link", { name: "Pools" }).click();
  await page.waitForURL(/\/ui\/pools$/);
  await settle();
  const row = page.getByRole("row", { name: new RegExp(poolName) });
  await row.waitFor();
  assert.match(await row.innerText(), /docker-batch/);
  await page.screenshot({ path: `${shots}/pools-${label}.png`, fullPage: true });
  if (javaScript) await scan(page, "pools");
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

  // The tasks list, with its filter form.
  await page.getByRole("link", { name: "Tasks", exact: true }).click();
  await page.waitForURL(/\/ui\/tasks$/);
  await settle();
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await page.getByRole("search", { name: "Filter tasks" }).waitFor();
  await page.screenshot({ path: `${shots}/tasks-${label}.png`, fullPage: true });
  if (javaScript) await scan(page, "tasks (empty)");

  signingOut = true;
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
  await signIn(page, token);
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
  await scan(page, "pool page (busy slots)");
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
  await scan(page, "pool page (decisions)");

  // A viewer: the same page without write controls, and a forged write is refused.
  const viewer = await api("POST", "/tokens", { name: "ui viewer", role: "viewer" });
  const asViewer = await browser.newContext();
  const vpage = await asViewer.newPage();
  vpage.on("pageerror", (e) => problems.push(`viewer page error: ${e.message}`));
  await signIn(vpage, viewer.token);
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

// The task page, live: a task whose instances print a line a second. The page tails the
// instance's stdout and stderr without a reload, within a second of the API having the
// line; Abort asks first, then cancels it; the tasks list shows it, filtered by state;
// the same pages read without JavaScript.
async function taskPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console at ${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  let loads = 0;
  page.on("load", () => loads++);

  const name = `ui-tasks-${Date.now()}`;
  const pool = await api("POST", "/pools", {
    name, profile: "docker-batch", instanceCount: 1, multiSlotsSettings: { slotsPerNode: 2 },
  });
  const taskName = `tail-${Date.now()}`;
  const task = await api("POST", "/tasks", {
    name: taskName, poolUuid: pool.uuid, instanceCount: 2, tags: ["ui-e2e"],
    constants: [{ key: "DOCKER_CMD", value: 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo "tick $i of $INSTANCE_ID"; echo "warn $i" >&2; sleep 1; done' }],
  });
  await signIn(page, token);
  await page.goto(`${base}/ui/tasks/${task.uuid}?instance=0`);
  await page.waitForLoadState("networkidle");
  await page.getByRole("heading", { name: taskName }).waitFor();
  await page.getByRole("heading", { name: "Output of instance 0" }).waitFor();
  const loadsBefore = loads;

  const stdout = page.locator('pre[data-stream="stdout"]');
  const stderr = page.locator('pre[data-stream="stderr"]');
  await when(async () => /tick 2 of 0/.test(await stdout.innerText()), 30000, "the first lines on the page");
  // A line the page has not seen yet: timed as the API returns it and as the page shows it.
  const seen = (await stdout.innerText()).match(/tick (\d+) of 0/g).length;
  const next = `tick ${seen + 2} of 0`;
  const apiStdout = async () => {
    const res = await fetch(`${base}/tasks/${task.uuid}/stdout/0`, { headers: { Authorization: `Bearer ${token}` } });
    return res.text();
  };
  const [apiSaw, pageSaw] = await Promise.all([
    when(async () => (await apiStdout()).includes(next), 15000, `the API has '${next}'`),
    when(async () => (await stdout.innerText()).includes(next), 15000, `the page shows '${next}'`),
  ]);
  const lag = pageSaw - apiSaw;
  console.log(`task page: a new output line shown ${lag} ms after the API had it`);
  assert.ok(lag < 1000, `the output lagged ${lag} ms`);
  assert.match(await stderr.innerText(), /warn \d+/);
  assert.equal(loads, loadsBefore, "the page reloaded");
  // No line twice: the tail and the stream join without overlap.
  const lines = (await stdout.innerText()).trim().split("\n");
  assert.equal(new Set(lines).size, lines.length, `a line repeated: ${lines.join(" | ")}`);
  const row = page.getByRole("row", { name: /output of instance 1/ });
  assert.match(await row.innerText(), /executing|assigned/);
  await page.screenshot({ path: `${shots}/task-output.png`, fullPage: true });
  await scan(page, "task page (output)");

  // Abort asks first; then the task and the followed instance end cancelled.
  await page.getByText("Abort task…").click();
  await page.getByRole("button", { name: "Abort task", exact: true }).click();
  await when(async () => (await api("GET", `/tasks/${task.uuid}`)).state === "Cancelled", 15000, "the task cancelled");
  await when(async () => /^cancelled/.test(await page.locator(".page-head .badge").innerText()), 5000, "the page shows it cancelled");
  await when(async () => /^cancelled/.test(await page.getByRole("status").innerText()), 5000, "the instance shown cancelled");
  assert.equal(await page.getByText("Abort task…").count(), 0, "a cancelled task still offers Abort");
  await page.screenshot({ path: `${shots}/task-aborted.png`, fullPage: true });

  // The list: its row with the progress in words; the state filter keeps or drops it.
  await page.goto(`${base}/ui/tasks?tag=ui-e2e`);
  const listed = page.getByRole("row", { name: new RegExp(taskName) });
  await listed.waitFor();
  assert.match(await listed.getByRole("img").getAttribute("aria-label"), /cancelled.* of 2$/);
  await page.screenshot({ path: `${shots}/tasks-filtered.png`, fullPage: true });
  await scan(page, "tasks list");
  await page.getByLabel("State").selectOption("Success");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/state=Success/);
  await page.waitForLoadState("networkidle");
  assert.equal(await page.getByRole("row", { name: new RegExp(taskName) }).count(), 0);
  await page.getByLabel("State").selectOption("Cancelled");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/state=Cancelled/);
  await page.getByRole("row", { name: new RegExp(taskName) }).waitFor();

  // Without JavaScript: the task page reads, output included.
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const plain = await nojs.newPage();
  await signIn(plain, token);
  await plain.goto(`${base}/ui/tasks/${task.uuid}?instance=0`);
  await plain.getByRole("heading", { name: taskName }).waitFor();
  assert.match(await plain.locator('pre[data-stream="stdout"]').innerText(), /tick 1 of 0/);
  await plain.screenshot({ path: `${shots}/task-nojs.png`, fullPage: true });
  await nojs.close();

  await api("POST", `/pools/${pool.uuid}/close`);
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log("dashboard: task page output tailing live, abort, tasks list and filters ok");
}

// Settings: a token created in the browser is shown once and works on the API; revoked,
// the API answers 401. Without JavaScript the page reads and the create button waits.
async function settingsPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console at ${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  await signIn(page, token);
  await page.getByRole("link", { name: "Settings" }).click();
  await page.waitForURL(/\/ui\/settings$/);
  await page.waitForLoadState("networkidle");
  await page.getByRole("heading", { name: "API tokens" }).waitFor();
  const name = `browser robot ${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Role").first().selectOption("viewer");
  await page.getByLabel("Expires in").selectOption("1");
  await page.getByRole("button", { name: "Create token" }).click();
  const secretShown = page.locator("#new-token");
  await secretShown.waitFor();
  const secret = (await secretShown.innerText()).trim();
  await page.getByRole("row", { name: new RegExp(name) }).waitFor();
  await page.screenshot({ path: `${shots}/settings-token-created.png`, fullPage: true });
  await scan(page, "settings (new token)");
  const asRobot = (path) => fetch(base + path, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal((await asRobot("/pools")).status, 200, "the new token works");
  // Shown once: a fresh read of the page has its name, not its secret.
  await page.reload();
  await page.getByRole("row", { name: new RegExp(name) }).waitFor();
  assert.equal(await page.getByText(secret).count(), 0, "the secret was shown again");
  // Revoked from its row: the API refuses it.
  const row = page.getByRole("row", { name: new RegExp(name) });
  await row.getByText("Revoke…").click();
  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  await when(async () => /revoked/.test(await page.getByRole("row", { name: new RegExp(name) }).innerText()), 5000, "the token shown revoked");
  assert.equal((await asRobot("/pools")).status, 401, "a revoked token still works");
  await page.screenshot({ path: `${shots}/settings.png`, fullPage: true });

  // A user added here, given a password here, signs in with it (and a wrong one is refused
  // with the one message).
  const email = `member-${Date.now()}@example.com`;
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Role").last().selectOption("member");
  await page.getByRole("button", { name: "Add user" }).click();
  const userRow = page.getByRole("row", { name: new RegExp(email) });
  await userRow.waitFor();
  await userRow.getByText("Set password…").click();
  await userRow.getByLabel(/New password/).fill("a browser-set password");
  await userRow.getByRole("button", { name: "Set password" }).click();
  await page.getByText("Password set; the user's password sessions ended.").waitFor();
  const member = await browser.newContext();
  const mpage = await member.newPage();
  mpage.on("pageerror", (e) => problems.push(`member page error: ${e.message}`));
  await mpage.goto(base + "/ui/sign-in");
  await mpage.getByLabel("Email").fill(email);
  await mpage.getByLabel("Password").fill("not the password at all");
  await mpage.getByRole("button", { name: "Sign in" }).click();
  await mpage.waitForURL(/refused=1/);
  await mpage.getByRole("alert").filter({ hasText: "Sign-in refused" }).waitFor();
  await mpage.getByLabel("Email").fill(email);
  await mpage.getByLabel("Password").fill("a browser-set password");
  await mpage.getByRole("button", { name: "Sign in" }).click();
  await mpage.waitForURL(/\/ui\/?$/);
  await mpage.getByText(`${email} · member`).waitFor();
  await mpage.screenshot({ path: `${shots}/overview-password.png`, fullPage: true });
  await member.close();

  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const plain = await nojs.newPage();
  await signIn(plain, token);
  await plain.goto(`${base}/ui/settings`);
  await plain.getByRole("heading", { name: "Users" }).waitFor();
  assert.ok(await plain.getByRole("button", { name: "Create token" }).isDisabled(), "creating without JavaScript would lose the secret");
  await plain.screenshot({ path: `${shots}/settings-nojs.png`, fullPage: true });
  await nojs.close();

  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log("dashboard: settings token created, shown once, revoked (API 401); user added, password set, password sign-in ok");
}

// The page's listening problems: console errors, page errors, failed answers.
function watch(page, problems) {
  page.on("console", (m) => m.type() === "error" && problems.push(`console at ${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
}

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const two = (n) => String(n).padStart(2, "0");

// The policies editor: a pool of two policies, "later" enabled one hour of today twelve
// hours from now, "otherwise" always. Clicking the current hour on "later"'s week grid
// makes it the active policy, shown without a reload.
async function policyEditor() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  const now = new Date();
  const day = (now.getUTCDay() + 6) % 7;
  const hour = now.getUTCHours();
  const other = (hour + 12) % 24;
  const name = `ui-policies-${Date.now()}`;
  const { uuid } = await api("POST", "/pools", {
    name, profile: "docker-batch", instanceCount: 0,
    scaling: { policies: [
      { type: "Fixed", name: "later", slotsCount: 0,
        enabledPeriods: [{ type: "Weekly", days: [WEEKDAYS[day]],
          startTimeUtc: `${two(other)}:00:00`, endTimeUtc: `${two((other + 1) % 24)}:00:00` }] },
      { type: "Fixed", name: "otherwise", slotsCount: 0 },
    ] },
  });
  await signIn(page, token);
  await page.goto(`${base}/ui/pools/${uuid}`);
  await page.waitForLoadState("networkidle");
  const active = page.locator(".facts div", { hasText: "Active policy" });
  assert.match(await active.innerText(), /otherwise/);
  const later = page.getByRole("listitem", { name: "1. later" });
  const dayName = WEEKDAYS[day][0].toUpperCase() + WEEKDAYS[day].slice(1);
  const cell = later.getByRole("button", { name: `${dayName} ${two(hour)}:00–${two((hour + 1) % 24)}:00: off` });
  await cell.click();
  const clicked = Date.now();
  const shown = await when(async () => /later/.test(await active.innerText()), 5000, "the active policy shown as 'later'");
  const pool = await api("GET", `/pools/${uuid}`);
  assert.equal(pool.scaling.activePolicyName, "later", "the API's active policy");
  await later.getByRole("button", { name: `${dayName} ${two(hour)}:00–${two((hour + 1) % 24)}:00: enabled` }).waitFor();
  await page.screenshot({ path: `${shots}/pool-policies.png`, fullPage: true });
  await scan(page, "pool (policies)");
  console.log(`dashboard: a week-grid click made 'later' active, shown ${shown - clicked} ms after the click`);
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
}

// A CSV text's rows (RFC 4180: quoted fields, doubled quotes, CRLF).
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field.replace(/\r$/, "")); rows.push(row); row = []; field = ""; }
    else field += c;
  }
  if (field !== "" || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

// The billing table's lines as the page shows them: name, pool column, exact figures.
async function tableLines(page) {
  return page.$$eval("table.lines tbody tr", (trs) => trs
    .filter((tr) => tr.querySelector("th"))
    .map((tr) => ({
      name: tr.querySelector("th").textContent.trim(),
      cells: [...tr.querySelectorAll("td")].map((td) => td.textContent.trim()),
      values: [...tr.querySelectorAll("data")].map((d) => d.value),
    })));
}

// Billing, once every pool is closed (no cost still growing): by pool, one line per pool of
// the API's report, the same figures; by task, each task and one __idle__ line per pool;
// the downloaded CSV parses and holds the table's lines.
async function billingPage(javaScript) {
  const label = javaScript ? "js" : "nojs";
  const context = await browser.newContext({ javaScriptEnabled: javaScript, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  if (javaScript) {
    for (const p of await api("GET", "/pools")) {
      if (!["Closed", "Closing", "Failure"].includes(p.state)) await api("POST", `/pools/${p.uuid}/close`, {});
    }
    await when(async () => (await api("GET", "/pools")).every((p) => ["Closed", "Failure"].includes(p.state)), 30000, "every pool closed");
  }
  await signIn(page, token);
  await page.goto(`${base}/ui/billing`);
  if (javaScript) await page.waitForLoadState("networkidle");
  await page.getByRole("heading", { name: "Busy and idle cost per day" }).waitFor();
  const from = await page.getByLabel("From", { exact: true }).inputValue();
  const to = await page.getByLabel("To", { exact: true }).inputValue();
  const after = new Date(Date.parse(`${to}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
  const report = await api("GET", `/billing/usage?groupBy=pool&from=${from}&to=${after}&limit=500`);
  const byPool = await tableLines(page);
  assert.ok(report.items.length >= 2, `pools billed this run: ${JSON.stringify(report.items)}`);
  assert.deepEqual(byPool.map((l) => l.name), report.items.map((l) => l.poolName ?? "(deleted pool)"), "one line per pool");
  assert.deepEqual(byPool.map((l) => l.values[3]), report.items.map((l) => l.cost), "each pool's cost");
  assert.equal(await page.locator("tfoot data").last().getAttribute("value"), report.totals.cost, "the total");
  await page.screenshot({ path: `${shots}/billing-${label}.png`, fullPage: true });
  if (javaScript) await scan(page, "billing");

  await page.locator('select[name="by"]').selectOption("task");
  await page.getByRole("button", { name: "Show" }).click();
  await page.waitForURL(/by=task/);
  await page.getByRole("heading", { name: "Cost by task" }).waitFor();
  const byTask = await tableLines(page);
  const idle = byTask.filter((l) => l.name === "__idle__");
  assert.deepEqual(idle.map((l) => l.cells[0]).sort(), byPool.map((l) => l.name).sort(), "one idle line per pool");
  assert.ok(byTask.length > idle.length, "the tasks' own lines");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^usage-\d{8}-\d{8}-by-task\.csv$/);
  const fs = await import("node:fs/promises");
  const rows = parseCsv(await fs.readFile(await download.path(), "utf8"));
  const [header, ...lines] = rows;
  const col = (n) => header.indexOf(n);
  for (const n of ["taskName", "poolName", "slotSeconds", "busyCost", "idleCost", "cost"]) assert.ok(col(n) >= 0, `CSV column ${n}`);
  assert.equal(lines.length, byTask.length, "a CSV line per table line");
  lines.forEach((l, i) => {
    const shown = byTask[i];
    if (l[col("taskName")]) assert.equal(l[col("taskName")], shown.name);
    assert.equal(l[col("poolName")] || "(deleted pool)", shown.cells[0]);
    assert.deepEqual(
      [l[col("slotSeconds")], l[col("busyCost")], l[col("idleCost")], l[col("cost")]],
      shown.values,
      `line ${i + 1} of the CSV`,
    );
  });
  await page.screenshot({ path: `${shots}/billing-by-task-${label}.png`, fullPage: true });
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log(`dashboard (${label}): billing ${byPool.length} pools, ${byTask.length} task and idle lines, CSV of ${lines.length} lines matches`);
}

// A second tenant, signed in with its own owner token, sees none of the first's objects.
async function secondTenant() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  const other = await api("POST", "/tenants", { name: `second-${Date.now()}` }, operatorToken);
  await signIn(page, other.ownerToken);
  await page.goto(`${base}/ui/pools`);
  await page.getByText("No pools yet").waitFor();
  assert.equal(await page.getByText(poolName).count(), 0, "the first tenant's pool is listed");
  await page.goto(`${base}/ui/tasks`);
  await page.getByText("No tasks match.").waitFor();
  const res = await page.goto(`${base}/ui/pools/${firstPool}`);
  assert.equal(res.status(), 404, "another tenant's pool page");
  assert.equal(await page.getByText(poolName).count(), 0);
  await page.goto(`${base}/ui/billing`);
  await page.getByText("No usage in this period.").waitFor();
  await page.screenshot({ path: `${shots}/second-tenant.png`, fullPage: true });
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log("dashboard: a second tenant sees none of the first tenant's pools, tasks or usage");
}

// "New pool" from the Pools page (with and without JavaScript): the browser lands on the
// new pool's page; the tag filter then lists it alone.
async function newPoolForm(javaScript) {
  const label = javaScript ? "js" : "nojs";
  const context = await browser.newContext({ javaScriptEnabled: javaScript });
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  await signIn(page, token);
  await page.goto(`${base}/ui/pools`);
  if (javaScript) await page.waitForLoadState("networkidle");
  const name = `ui-form-${label}-${Date.now()}`;
  const tag = `formed-${label}`;
  await page.getByText("New pool…").click();
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Profile").selectOption("docker-batch");
  await page.getByLabel("Tags").fill(tag);
  await page.getByLabel("slots", { exact: true }).fill("0");
  await page.screenshot({ path: `${shots}/pools-new-${label}.png`, fullPage: true });
  if (javaScript) await scan(page, "pools (new pool form)");
  await page.getByRole("button", { name: "Create pool" }).click();
  await page.waitForURL(/\/ui\/pools\/[0-9a-f-]{36}$/);
  await page.getByRole("heading", { name }).waitFor();
  const made = (await api("GET", "/pools")).find((p) => p.name === name);
  assert.ok(made, "the pool exists on the API");
  assert.deepEqual(made.tags, [tag]);
  await page.goto(`${base}/ui/pools?tag=${tag}`);
  const rows = page.locator("tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1, "the tag filter keeps the new pool alone");
  assert.match(await rows.first().innerText(), new RegExp(name));
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log(`dashboard (${label}): New pool form created ${name}, tag filter lists it alone`);
}

// The Overview's feed follows the event stream: a pool created on the API shows up there
// without a reload.
async function overviewFeed() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  await signIn(page, token);
  await page.waitForLoadState("networkidle");
  await page.getByRole("heading", { name: "Recent events" }).waitFor();
  await page.getByRole("heading", { name: "Spend" }).waitFor();
  const name = `ui-feed-${Date.now()}`;
  const sent = Date.now();
  await api("POST", "/pools", { name, profile: "docker-batch", instanceCount: 0 });
  const shown = await when(async () => (await page.locator(".feed").innerText().catch(() => "")).includes(`pool ${name}`), 5000, "the new pool in the feed");
  await page.screenshot({ path: `${shots}/overview-feed.png`, fullPage: true });
  await scan(page, "overview (feed, spend)");
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log(`dashboard: the Overview feed showed a new pool ${shown - sent} ms after the API call`);
}

// Jobs: a job of two tasks, the second waiting for the first; its page links the
// dependency, and Terminate (behind its confirmation) cancels both, shown without a reload.
// Without JavaScript the list and the page read.
async function jobPages() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  watch(page, problems);
  const { uuid: pool } = await api("POST", "/pools", { name: `ui-jobs-${Date.now()}`, profile: "docker-batch", instanceCount: 0 });
  const name = `ui-job-${Date.now()}`;
  const { uuid: job } = await api("POST", "/jobs", { name, poolUuid: pool, useDependencies: true });
  const task = (taskName, extra) => api("POST", "/tasks", {
    name: taskName, jobUuid: job, instanceCount: 1,
    constants: [{ key: "DOCKER_CMD", value: "true" }], ...extra,
  });
  const { uuid: first } = await task("prepare");
  await task("render", { dependencies: { dependsOn: [first] } });
  await signIn(page, token);
  await page.getByRole("link", { name: "Jobs", exact: true }).click();
  await page.waitForURL(/\/ui\/jobs$/);
  await page.waitForLoadState("networkidle");
  const row = page.getByRole("row", { name: new RegExp(name) });
  await row.waitFor();
  await page.screenshot({ path: `${shots}/jobs.png`, fullPage: true });
  await scan(page, "jobs");
  await row.getByRole("link", { name }).click();
  await page.waitForURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
  await page.waitForLoadState("networkidle");
  const render = page.getByRole("row", { name: /render/ });
  await render.getByRole("link", { name: "prepare" }).waitFor();
  await page.getByText("Terminate job…").click();
  await page.getByRole("button", { name: "Terminate job" }).click();
  await when(async () => /2 cancelled of 2/.test(await page.locator(".facts .progress").getAttribute("aria-label")), 5000, "the job's tasks shown cancelled");
  const states = await Promise.all([first].map((t) => api("GET", `/tasks/${t}`)));
  assert.equal(states[0].state, "Cancelled");
  await page.screenshot({ path: `${shots}/job.png`, fullPage: true });
  await scan(page, "job");
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const plain = await nojs.newPage();
  await signIn(plain, token);
  await plain.goto(`${base}/ui/jobs/${job}`);
  await plain.getByRole("row", { name: /render/ }).getByRole("link", { name: "prepare" }).waitFor();
  await plain.screenshot({ path: `${shots}/job-nojs.png`, fullPage: true });
  await nojs.close();
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
  console.log("dashboard: jobs list, job page with its dependency, terminate shown live, no-JavaScript read ok");
}

try {
  await run(true);
  await run(false);
  await poolPage();
  await taskPage();
  await settingsPage();
  await policyEditor();
  await newPoolForm(true);
  await newPoolForm(false);
  await overviewFeed();
  await jobPages();
  await secondTenant();
  await billingPage(true);
  await billingPage(false);
  const bad = accessibility.filter((a) => a.found.length > 0);
  console.log(`axe-core: ${accessibility.length} pages scanned, ${bad.length} with serious or critical findings`);
  assert.deepEqual(bad, [], bad.map((a) => `${a.what}:\n  ${a.found.join("\n  ")}`).join("\n"));
} finally {
  await browser.close();
}
