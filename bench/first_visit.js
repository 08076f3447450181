// A cold first visit to /login in Chromium, then a second one with the
// cache it filled: every request and the bytes it moved over the network
// (headers and body, as sent: compressed where the server compressed).
// Usage: node bench/first_visit.js http://127.0.0.1:3390 (run from end2end/,
// where @playwright/test is installed). Prints JSON.
const { chromium } = require("@playwright/test");

async function visit(context, url) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const requests = new Map();
  const cached = new Set();
  cdp.on("Network.requestServedFromCache", (e) => cached.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    const headers = Object.fromEntries(
      Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    requests.set(e.requestId, {
      url: e.response.url,
      status: e.response.status,
      encoding: headers["content-encoding"] || "",
      cacheControl: headers["cache-control"] || "",
      fromCache: e.response.fromDiskCache || e.response.fromPrefetchCache || cached.has(e.requestId),
      bytes: 0,
    });
  });
  cdp.on("Network.loadingFinished", (e) => {
    const seen = requests.get(e.requestId);
    if (seen) seen.bytes = e.encodedDataLength;
  });
  await page.goto(url);
  await page.waitForSelector('[data-hydrated="true"]');
  await page.waitForLoadState("networkidle");
  await page.close();
  return [...requests.values()].map((r) => (r.fromCache ? { ...r, bytes: 0 } : r));
}

(async () => {
  const base = process.argv[2];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const context = await browser.newContext();
    const first = await visit(context, `${base}/login`);
    const repeat = await visit(context, `${base}/login`);
    console.log(JSON.stringify({ first, repeat }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
