// The Chromium end of a relay-only call (tests/browser/webrtc_fastpath.sh): headless Debian
// chromium through playwright-core, one RTCPeerConnection with iceTransportPolicy "relay" over the
// TURN server of a token, a data channel whose messages the other end (call_aiortc.py) echoes.
// Signalling through files: writes DIR/offer.json, waits for DIR/answer.json. Prints one JSON line.
// usage: NODE_PATH=build/npm/node_modules node call_chromium.js DIR TOKEN_JSON MESSAGES SIZE
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

async function waitFile(file, ms) {
	for (const end = Date.now() + ms; Date.now() < end; ) {
		if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
		await new Promise((r) => setTimeout(r, 50));
	}
	throw new Error("no " + path.basename(file) + " within " + ms / 1000 + " s");
}

async function main() {
	const [dir, tokenFile, messages, size] = process.argv.slice(2);
	const token = JSON.parse(fs.readFileSync(tokenFile, "utf8"));
	const udp = token.ice_servers.filter((s) => /^turn:.*transport=udp/.test(s.urls));
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
	});
	try {
		const page = await browser.newPage();
		page.on("pageerror", (e) => process.stderr.write("pageerror: " + e.message + "\n"));
		const offer = await page.evaluate(async (servers) => {
			const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
			window.pc = pc;
			window.dc = pc.createDataChannel("call");
			await pc.setLocalDescription();
			// Non-trickle signalling: the offer carries every (relay) candidate.
			await new Promise((resolve, reject) => {
				const t = setTimeout(() => reject(new Error("ICE gathering timed out")), 10000);
				const check = () => {
					if (pc.iceGatheringState === "complete") {
						clearTimeout(t);
						resolve();
					}
				};
				pc.addEventListener("icegatheringstatechange", check);
				check();
			});
			return { type: pc.localDescription.type, sdp: pc.localDescription.sdp };
		}, udp.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })));
		fs.writeFileSync(path.join(dir, "offer.json.tmp"), JSON.stringify(offer));
		fs.renameSync(path.join(dir, "offer.json.tmp"), path.join(dir, "offer.json"));
		const answer = await waitFile(path.join(dir, "answer.json"), 20000);
		const result = await page.evaluate(async ([answer, messages, size]) => {
			const pc = window.pc, dc = window.dc;
			await pc.setRemoteDescription(answer);
			await new Promise((resolve, reject) => {
				const t = setTimeout(() => reject(new Error("the channel did not open")), 15000);
				if (dc.readyState === "open") resolve();
				dc.addEventListener("open", () => { clearTimeout(t); resolve(); });
			});
			let echoed = 0, intact = 0;
			const payload = "x".repeat(size - 8);
			const done = new Promise((resolve) => {
				dc.addEventListener("message", (e) => {
					echoed++;
					if (e.data.length === size && e.data.endsWith(payload)) intact++;
					if (echoed === messages) resolve();
				});
			});
			const t0 = performance.now();
			for (let i = 0; i < messages; i++) {
				dc.send(String(i).padStart(8, "0") + payload);
				if (i % 20 === 19) await new Promise((r) => setTimeout(r, 10));
			}
			await Promise.race([done, new Promise((r) => setTimeout(r, 15000))]);
			const ms = performance.now() - t0;
			const stats = await pc.getStats();
			let pair = null;
			stats.forEach((r) => {
				if (r.type === "transport" && r.selectedCandidatePairId)
					pair = stats.get(r.selectedCandidatePairId);
			});
			const local = pair && stats.get(pair.localCandidateId);
			const remote = pair && stats.get(pair.remoteCandidateId);
			dc.send("bye");
			return {
				sent: messages, echoed, intact, ms: Math.round(ms),
				local: local && { type: local.candidateType, relay_protocol: local.relayProtocol,
						  address: local.address, port: local.port },
				remote: remote && { type: remote.candidateType, address: remote.address,
						    port: remote.port },
			};
		}, [answer, Number(messages), Number(size)]);
		process.stdout.write(JSON.stringify(result) + "\n");
	} finally {
		await browser.close();
	}
}

main().catch((e) => {
	process.stderr.write("call_chromium.js: " + e.message + "\n");
	process.exit(2);
});
