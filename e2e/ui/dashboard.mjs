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
  if (javaScript && process.env.EXPECT_HYDRATION === "1") {
    assert.ok(serverFnCalls.length > 0, "the hydrated page navigated without calling a server function");
  }

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

try {
  await run(true);
  await run(false);
} finally {
  await browser.close();
}
