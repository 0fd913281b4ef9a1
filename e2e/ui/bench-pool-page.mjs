// The pool page at scale, in Debian's Chromium against a real `hearth serve` (run by
// bench-pool-page.sh): a pool of 64 nodes x 16 slots kept busy by instances of 15-25 s, so
// about 100 instance changes a second (an end and a start each ~50 times a second).
//
// Figures, each beside the machine's own limit measured in the same run:
// - render: the pool page's load (navigation start to the load event, and to hydrated) with
//   1,024 busy slots, beside the sign-in page's (a trivial page of the same app and bundle);
// - keeping up: over a 20 s window of churn, the page's refetches a second, the server
//   function's answer time (p50/p95) beside GET /health's, the main thread's busy share
//   (long tasks) and its worst stall (a 50 ms timer's drift);
// - settling: after the task is aborted (1,024 slots go idle at once), how long after the
//   API showed every slot idle the page did.
// Prints human lines and `key=value` lines; asserts nothing about time.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.HEARTH_URL;
const token = process.env.HEARTH_TOKEN;
const NODES = Number(process.env.BENCH_NODES ?? 64);
const SLOTS = Number(process.env.BENCH_SLOTS ?? 16);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20000);
const total = NODES * SLOTS;

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

async function when(check, limit, what) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() - start > limit) throw new Error(`not within ${limit} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const p95 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] : NaN;
};
const ms = (x) => `${Math.round(x)} ms`;
const figures = [];
const figure = (key, value) => {
  figures.push([key, value]);
  console.log(`${key}=${typeof value === "number" ? Math.round(value * 10) / 10 : value}`);
};

async function busyOnApi(pool) {
  let busy = 0, ready = 0, pageToken = null;
  do {
    const q = pageToken ? `&pageToken=${pageToken}` : "";
    const page = await api("GET", `/pools/${pool}/nodes?limit=500${q}`);
    for (const n of page.items) if (n.state === "Ready") { ready++; busy += n.busySlots; }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { busy, ready };
}

// The page's load: navigation start to the load event, and to the bundle's hydration
// (the first server-function call a hydrated page makes, or the load event without one).
async function loadTimes(page, url) {
  await page.goto(url, { waitUntil: "load" });
  return page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const wasm = performance.getEntriesByType("resource").find((r) => r.name.endsWith(".wasm"));
    return { load: nav.loadEventEnd, html: nav.responseEnd, wasm: wasm ? wasm.responseEnd : NaN };
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
let pool = null, task = null;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  await page.goto(base + "/ui/sign-in");
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/ui\/?$/);

  // The machine's own figures: a trivial page of the same app and bundle, and /health.
  const trivial = [];
  for (let i = 0; i < 5; i++) trivial.push(await loadTimes(page, base + "/ui/sign-in"));
  const health = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await fetch(base + "/health");
    health.push(performance.now() - t);
  }

  console.log(`bench: a pool of ${NODES} nodes x ${SLOTS} slots`);
  ({ uuid: pool } = await api("POST", "/pools", {
    name: `bench-${Date.now()}`, profile: "docker-batch", instanceCount: total,
    multiSlotsSettings: { slotsPerNode: SLOTS },
  }));
  const readyAt = await when(async () => (await busyOnApi(pool)).ready === NODES, 300000, `${NODES} Ready nodes`);
  console.log(`bench: ${NODES} nodes ready`);
  ({ uuid: task } = await api("POST", "/tasks", {
    name: "churn", poolUuid: pool, instanceCount: total * 6,
    constants: [{ key: "DOCKER_CMD", value: "sleep $((15 + INSTANCE_ID % 11))" }],
  }));
  await when(async () => (await busyOnApi(pool)).busy === total, 120000, "every slot busy");
  // Past the first wave: ends and starts spread out.
  await new Promise((r) => setTimeout(r, 22000 - Math.min(22000, Date.now() - readyAt) + 5000));

  const renders = [];
  for (let i = 0; i < 3; i++) renders.push(await loadTimes(page, `${base}/ui/pools/${pool}`));
  const shown = await page.locator(".slots .slot").count();
  assert.equal(shown, total, "every slot drawn");

  // The window: refetches, their answer times, the main thread.
  const answers = [];
  page.on("requestfinished", async (r) => {
    if (!r.url().includes("/ui/fn/pool_details")) return;
    const t = r.timing();
    answers.push(t.responseEnd - t.requestStart);
  });
  await page.evaluate(() => {
    window.__bench = { long: 0, worst: 0 };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__bench.long += e.duration;
    }).observe({ type: "longtask", buffered: false });
    let last = performance.now();
    window.__bench.timer = setInterval(() => {
      const now = performance.now();
      window.__bench.worst = Math.max(window.__bench.worst, now - last - 50);
      last = now;
    }, 50);
  });
  const before = await api("GET", `/tasks/${task}`);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const elapsed = Date.now() - started;
  const after = await api("GET", `/tasks/${task}`);
  const main = await page.evaluate(() => ({ long: window.__bench.long, worst: window.__bench.worst }));
  // Instances ended so far: the task's succeeded and failed ranges ("0-3,7").
  const count = (range) => (range ?? "").split(",").filter(Boolean).reduce((n, part) => {
    const [a, b] = part.split("-").map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
  const ended = (t) => count(t.status?.succeededRange) + count(t.status?.failedRange);
  const ends = ended(after) - ended(before);

  // Settling: abort, every slot goes idle.
  await api("POST", `/tasks/${task}/abort`, {});
  const [apiIdle, pageIdle] = await Promise.all([
    when(async () => (await busyOnApi(pool)).busy === 0, 60000, "the API shows every slot idle"),
    when(async () => (await page.locator(".slots .slot-busy").count()) === 0, 60000, "the page shows every slot idle")
      .catch(async (e) => {
        const busy = await page.locator(".slots .slot-busy").count();
        throw new Error(`${e.message}: ${busy} busy on the page; ${answers.length} refetches; ${problems.join("; ")}`);
      }),
  ]);

  console.log("");
  console.log(`render: pool page of ${total} busy slots loads in ${ms(median(renders.map((r) => r.load)))} (HTML ${ms(median(renders.map((r) => r.html)))}, bundle ${ms(median(renders.map((r) => r.wasm)))}); the sign-in page in ${ms(median(trivial.map((r) => r.load)))}`);
  figure("pool_page_load_ms", median(renders.map((r) => r.load)));
  figure("pool_page_html_ms", median(renders.map((r) => r.html)));
  figure("sign_in_page_load_ms", median(trivial.map((r) => r.load)));
  console.log(`changes: ${ends} instances ended in ${ms(elapsed)} (${(2 * ends / (elapsed / 1000)).toFixed(0)} instance changes/s, ends and starts)`);
  figure("instance_changes_per_s", (2 * ends) / (elapsed / 1000));
  console.log(`keeping up: ${(answers.length / (elapsed / 1000)).toFixed(1)} refetches/s; pool_details answered in ${ms(median(answers))} (p95 ${ms(p95(answers))}), GET /health in ${ms(median(health))}`);
  figure("refetches_per_s", answers.length / (elapsed / 1000));
  figure("pool_details_p50_ms", median(answers));
  figure("pool_details_p95_ms", p95(answers));
  figure("health_p50_ms", median(health));
  console.log(`main thread: ${(100 * main.long / elapsed).toFixed(1)}% in long tasks, worst stall ${ms(main.worst)}`);
  figure("main_thread_long_task_percent", (100 * main.long) / elapsed);
  figure("main_thread_worst_stall_ms", main.worst);
  console.log(`settling: the page showed every slot idle ${ms(pageIdle - apiIdle)} after the API did`);
  figure("settle_after_api_ms", pageIdle - apiIdle);
  await context.close();
} finally {
  if (task) await api("POST", `/tasks/${task}/abort`, {}).catch(() => {});
  if (pool) await api("POST", `/pools/${pool}/close`, {}).catch(() => {});
  await browser.close();
}
