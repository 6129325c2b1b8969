// Opens the connectivity test page in Debian's chromium (headless, driven by playwright-core) and
// prints the page's result (window.ntsDiag) as one JSON line per URL once the page says it is done,
// with what the page shows, the answer's headers and any Content-Security-Policy violation.
// usage: NODE_PATH=build/npm/node_modules node diag_page.js URL...  (DIAG_TIMEOUT_MS: per page)
"use strict";
const { chromium } = require("playwright-core");

async function main() {
	const urls = process.argv.slice(2);
	const timeout = Number(process.env.DIAG_TIMEOUT_MS || 45000);
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		// Root in tests: no sandbox. The test's TLS certificate is self-signed.
		args: ["--no-sandbox", "--ignore-certificate-errors", "--disable-gpu",
		       "--disable-dev-shm-usage"],
	});
	try {
		for (const url of urls) await open(browser, url, timeout);
	} finally {
		await browser.close();
	}
}

async function open(browser, url, timeout) {
	const cspViolations = [];
	const page = await browser.newPage();
	try {
		page.on("console", (m) => {
			if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
			process.stderr.write("console: " + m.text() + "\n");
		});
		page.on("pageerror", (e) => process.stderr.write("pageerror: " + e.message + "\n"));
		const resp = await page.goto(url, { waitUntil: "load", timeout: 10000 });
		const headers = resp ? resp.headers() : {};
		await page.waitForFunction(() => window.ntsDiag && window.ntsDiag.done, null,
					   { timeout, polling: 100 });
		const result = await page.evaluate(() => window.ntsDiag);
		const shown = await page.evaluate(() => ({
			status: document.getElementById("status").textContent,
			json: document.getElementById("json").value,
			cards: document.querySelectorAll("#results .card").length,
			canvases: document.querySelectorAll("#results canvas").length,
		}));
		process.stdout.write(JSON.stringify({ url, result, shown, headers, csp_violations:
			cspViolations }) + "\n");
	} finally {
		await page.close();
	}
}

main().catch((e) => {
	process.stderr.write("diag_page.js: " + e.message + "\n");
	process.exit(2);
});
