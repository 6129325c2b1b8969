// Opens the connectivity test page in Debian's chromium (headless, driven by playwright-core) and
// prints the page's result (window.ntsDiag) as JSON on stdout once the page says it is done.
// usage: NODE_PATH=build/npm/node_modules node diag_page.js URL [TIMEOUT_MS]
"use strict";
const { chromium } = require("playwright-core");

async function main() {
	const url = process.argv[2];
	const timeout = Number(process.argv[3] || 45000);
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		// Root in tests: no sandbox. The test's TLS certificate is self-signed.
		args: ["--no-sandbox", "--ignore-certificate-errors", "--disable-gpu",
		       "--disable-dev-shm-usage"],
	});
	const cspViolations = [];
	try {
		const page = await browser.newPage();
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
		process.stdout.write(JSON.stringify({ result, shown, headers, csp_violations:
			cspViolations }) + "\n");
	} finally {
		await browser.close();
	}
}

main().catch((e) => {
	process.stderr.write("diag_page.js: " + e.message + "\n");
	process.exit(2);
});
