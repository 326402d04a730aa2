// Opens every page of a built dashboard in headless Chromium (Debian's
// chromium, driven by playwright-core) and prints TAP lines:
//   - the page loads with no console error, no uncaught exception, no failed
//     request and no HTTP error (every script, style and data file is served
//     by the dashboard's own server);
//   - every chart (.chart) drew an SVG with marks in it: no empty chart;
//   - every figure the page shows (elements with data-figure) equals the
//     value the caller computed with SQL, and the page shows no figure the
//     caller did not expect (an agent seeing another agent's cards fails);
//   - a full-page screenshot is saved.
//
//   node test/browser.mjs BASE_URL EXPECTED.json SCREENSHOT_DIR LABEL
//
// EXPECTED.json: {"index": {"customers": 2357, ...}, "predictive": {...},
// "agents": {...}}; numbers are compared to 0.005 (amounts shown to the cent),
// anything else as text.
import {chromium} from "playwright-core";
import {readFileSync, mkdirSync} from "node:fs";

const [base, expectedFile, shots, label = ""] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedFile, "utf8"));
const pages = ["index", "predictive", "agents"];
mkdirSync(shots, {recursive: true});
const prefix = label ? `${label}: ` : "";

let n = 0;
const tap = (ok, what, detail) => {
  console.log(`${ok ? "ok" : "not ok"} ${++n} - ${prefix}${what}`);
  if (!ok && detail) for (const line of String(detail).split("\n")) console.log(`#   ${line}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"]
});
try {
  for (const name of pages) {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}, deviceScaleFactor: 1});
    const problems = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

    await page.goto(`${base}/${name}.html`, {waitUntil: "networkidle"});
    // the runtime fills figures and charts after the data files arrive
    await page.waitForFunction(() => {
      const charts = [...document.querySelectorAll(".chart")];
      const figures = [...document.querySelectorAll("[data-figure]")];
      return charts.every((c) => c.querySelector("svg")) && figures.every((f) => f.textContent.trim() !== "");
    }, null, {timeout: 30000}).catch(() => problems.push("charts or figures still empty after 30 s"));
    await page.waitForTimeout(300);

    tap(problems.length === 0, `${name}: loads with no console error, exception or failed request`, problems.join("\n"));

    const charts = await page.$$eval(".chart", (nodes) => nodes.map((c) => {
      const title = c.querySelector("h2, figcaption, [class$='-title']")?.textContent ?? c.textContent.slice(0, 60);
      // Plot labels every mark's group (aria-label "bar", "dot", "line", "cell", ...);
      // axes, ticks and grids are not marks; a legend is an svg of its own
      const groups = [...c.querySelectorAll("svg g[aria-label]")].filter((g) => !/axis|tick|grid|label|frame/.test(g.getAttribute("aria-label")));
      const marks = groups.reduce((s, g) => s + g.querySelectorAll("rect, circle, path, line, text").length, 0);
      return {title, marks};
    }));
    const empty = charts.filter((c) => c.marks === 0);
    tap(charts.length > 0 && empty.length === 0, `${name}: ${charts.length} charts, none empty`,
        empty.map((c) => `empty: ${c.title}`).join("\n") || "no chart on the page");

    const shown = Object.fromEntries(await page.$$eval("[data-figure]", (nodes) => nodes.map((f) => [f.dataset.figure, f.textContent.trim()])));
    const want = expected[name] ?? {};
    for (const [key, value] of Object.entries(want)) {
      const text = shown[key];
      let ok;
      if (text === undefined) ok = false;
      else if (typeof value === "number") ok = Math.abs(Number(text.replace(/,/g, "")) - value) < 0.005;
      else ok = text === String(value ?? "–");
      tap(ok, `${name}: ${key} shown = SQL (${value})`, `page shows ${text === undefined ? "nothing" : JSON.stringify(text)}`);
    }
    const unexpected = Object.keys(shown).filter((k) => !(k in want));
    tap(unexpected.length === 0, `${name}: no figure the SQL did not give`, `unexpected: ${unexpected.join(", ")}`);

    await page.screenshot({path: `${shots}/${name}.png`, fullPage: true});
    await page.close();
  }
} finally {
  await browser.close();
}
