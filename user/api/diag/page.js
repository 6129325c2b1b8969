"use strict";
// nts connectivity test (README.md, "Connectivity test page"). For each TURN server of a token
// fetched through the signed link in this page's fragment, two relay-only RTCPeerConnections meet
// at the relay; the page measures gathering, the selected pair, round-trip time, loss and a short
// transfer. The result is kept in window.ntsDiag (the tests read it) and offered as JSON.
(() => {
	const PINGS = 40, PING_GAP_MS = 25, PING_WAIT_MS = 1500;
	const BULK_BYTES = 1 << 20, CHUNK = 16 * 1024, BULK_MS = 15000;
	const CONNECT_MS = 10000, LOSS_WARN = 0.05, RTT_WARN_MS = 400;

	const $ = (id) => document.getElementById(id);
	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
	let result = null;

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined) e.textContent = text;
		return e;
	}

	function withTimeout(promise, ms, message) {
		let timer;
		const t = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(message)), ms);
		});
		return Promise.race([promise, t]).finally(() => clearTimeout(timer));
	}

	// "turns:h:443?transport=tcp" -> {kind: "TLS", port: "443"}
	function describe(url) {
		const m = /^(turns?):(?:\[[^\]]*\]|[^:?]*):?(\d*)(?:\?transport=(\w+))?/i.exec(url) || [];
		const scheme = (m[1] || "").toLowerCase();
		const kind = scheme === "turns" ? "TLS" : (m[3] || "udp").toUpperCase();
		return { kind, port: m[2] || (scheme === "turns" ? "5349" : "3478") };
	}

	async function fetchToken(link) {
		const r = await fetch("/diag/token", {
			method: "POST",
			headers: { "Content-Type": "application/x-www-form-urlencoded" },
			body: "link=" + encodeURIComponent(link),
			cache: "no-store",
			credentials: "omit",
		});
		let body = null;
		try {
			body = await r.json();
		} catch (e) {
			body = null;
		}
		if (!r.ok) {
			const err = new Error((body && body.message) || "HTTP " + r.status);
			err.status = r.status;
			throw err;
		}
		return body;
	}

	// Candidates go from one connection to the other, queued until its remote description is set.
	function trickle(from, to, list) {
		const queue = [];
		let ready = false;
		from.addEventListener("icecandidate", (e) => {
			if (!e.candidate || !e.candidate.candidate) return;
			list.push(e.candidate.candidate);
			if (ready) to.addIceCandidate(e.candidate).catch(() => {});
			else queue.push(e.candidate);
		});
		return () => {
			ready = true;
			for (const c of queue.splice(0)) to.addIceCandidate(c).catch(() => {});
		};
	}

	function opened(ch) {
		return new Promise((resolve) => {
			if (ch.readyState === "open") resolve(ch);
			else ch.addEventListener("open", () => resolve(ch), { once: true });
		});
	}

	async function selectedPair(pc) {
		const stats = await pc.getStats();
		let pair = null;
		stats.forEach((r) => {
			if (r.type === "transport" && r.selectedCandidatePairId)
				pair = stats.get(r.selectedCandidatePairId) || pair;
		});
		if (!pair)
			stats.forEach((r) => {
				if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") pair = r;
			});
		if (!pair) return null;
		const show = (c) =>
			c ? { type: c.candidateType, protocol: c.protocol, relay_protocol: c.relayProtocol || null,
			      address: c.address || c.ip || null, port: c.port } : null;
		return {
			local: show(stats.get(pair.localCandidateId)),
			remote: show(stats.get(pair.remoteCandidateId)),
			rtt_ms: typeof pair.currentRoundTripTime === "number"
				? Math.round(pair.currentRoundTripTime * 10000) / 10 : null,
		};
	}

	async function measurePings(ping, echo, res) {
		const sent = new Array(PINGS).fill(0);
		let got = 0;
		let all;
		const allBack = new Promise((r) => (all = r));
		echo.addEventListener("message", (e) => echo.send(e.data));
		ping.addEventListener("message", (e) => {
			const seq = Number(e.data);
			if (seq >= 0 && seq < PINGS && res.rtt_samples_ms[seq] === null) {
				res.rtt_samples_ms[seq] = Math.round((performance.now() - sent[seq]) * 10) / 10;
				if (++got === PINGS) all();
			}
		});
		for (let i = 0; i < PINGS; i++) {
			sent[i] = performance.now();
			ping.send(String(i));
			await sleep(PING_GAP_MS);
		}
		await Promise.race([allBack, sleep(PING_WAIT_MS)]);
		const ok = res.rtt_samples_ms.filter((v) => v !== null).sort((a, b) => a - b);
		res.loss = Math.round(((PINGS - ok.length) / PINGS) * 1000) / 1000;
		res.rtt_ms = ok.length ? ok[Math.floor(ok.length / 2)] : null; // median
	}

	// A reliable transfer of BULK_BYTES; on a slow network, what arrived within BULK_MS.
	async function measureBulk(bulk, sink, res) {
		let received = 0;
		sink.binaryType = "arraybuffer";
		sink.addEventListener("message", (e) => {
			received += e.data.byteLength;
			if (received >= BULK_BYTES) sink.send("done");
		});
		const acked = new Promise((r) => bulk.addEventListener("message", r, { once: true }));
		const chunk = new Uint8Array(CHUNK);
		const t0 = performance.now(), end = t0 + BULK_MS;
		bulk.bufferedAmountLowThreshold = 256 * 1024;
		for (let sent = 0; sent < BULK_BYTES && performance.now() < end; sent += CHUNK) {
			if (bulk.bufferedAmount > 1024 * 1024)
				await Promise.race([sleep(end - performance.now()), new Promise((r) =>
					bulk.addEventListener("bufferedamountlow", r, { once: true }))]);
			if (performance.now() < end) bulk.send(chunk);
		}
		const complete = await Promise.race([acked.then(() => true),
			sleep(Math.max(0, end - performance.now())).then(() => false)]);
		const seconds = (performance.now() - t0) / 1000;
		res.transfer_bytes = complete ? BULK_BYTES : received;
		res.transfer_complete = complete;
		res.throughput_kbps = Math.round((res.transfer_bytes * 8) / seconds / 1000);
	}

	async function runOne(server, res, onUpdate) {
		const config = {
			iceServers: [{ urls: server.urls, username: server.username,
				       credential: server.credential }],
			iceTransportPolicy: "relay",
		};
		const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
		const listA = [], listB = [];
		const t0 = performance.now();
		try {
			const readyB = trickle(a, b, listA), readyA = trickle(b, a, listB);
			const ping = a.createDataChannel("ping", { ordered: false, maxRetransmits: 0 });
			const bulk = a.createDataChannel("bulk");
			const remote = new Promise((resolve) => {
				const got = {};
				b.addEventListener("datachannel", (e) => {
					got[e.channel.label] = e.channel;
					if (got.ping && got.bulk) resolve(got);
				});
			});
			const failed = new Promise((_, reject) => {
				a.addEventListener("iceconnectionstatechange", () => {
					if (a.iceConnectionState === "failed")
						reject(new Error("ICE failed"));
				});
			});
			await a.setLocalDescription();
			await b.setRemoteDescription(a.localDescription);
			readyB();
			await b.setLocalDescription();
			await a.setRemoteDescription(b.localDescription);
			readyA();
			let far;
			try {
				far = await withTimeout(
					Promise.race([Promise.all([remote, opened(ping), opened(bulk)]), failed]),
					CONNECT_MS, "no connection within " + CONNECT_MS / 1000 + " s");
			} catch (e) {
				res.candidates = listA.length + listB.length;
				res.verdict = "fail";
				res.reason = res.candidates === 0
					? "No relay candidate: the TURN server could not be reached over " +
					  res.transport + " from this network (blocked, or the service is down)."
					: "Relay candidates were gathered but the two ends did not connect " +
					  "through the relay (" + e.message + "). If this happens from every " +
					  "network, the service does not accept its own relay address as a " +
					  "peer (its operator can allow it).";
				return;
			}
			res.connect_ms = Math.round(performance.now() - t0);
			res.candidates = listA.length + listB.length;
			res.selected_pair = await selectedPair(a);
			onUpdate();
			const [remoteCh] = far;
			await measurePings(ping, remoteCh.ping, res);
			onUpdate();
			await measureBulk(bulk, remoteCh.bulk, res);
			const pair = await selectedPair(a);
			if (pair) res.selected_pair = pair;
			res.candidates = listA.length + listB.length;
			if (!res.transfer_complete) {
				res.verdict = res.transfer_bytes > 0 ? "warn" : "fail";
				res.reason = res.transfer_bytes > 0
					? "Works, but slowly: " + (res.throughput_kbps / 1000).toFixed(2) +
					  " Mbit/s, the transfer did not finish in " + BULK_MS / 1000 + " s."
					: "Connected, but no data got through the relay.";
			} else if (res.loss > LOSS_WARN) {
				res.verdict = "warn";
				res.reason = "Works, but " + Math.round(res.loss * 100) +
					"% of the probes were lost: calls will stutter.";
			} else if (res.rtt_ms !== null && res.rtt_ms > RTT_WARN_MS) {
				res.verdict = "warn";
				res.reason = "Works, but the round trip is slow (" + res.rtt_ms + " ms).";
			} else {
				res.verdict = "ok";
				res.reason = "Works: media can flow over " + res.transport + ".";
			}
		} catch (e) {
			res.verdict = "fail";
			res.reason = "The test failed: " + e.message;
		} finally {
			a.close();
			b.close();
		}
	}

	function drawChart(canvas, samples) {
		const dpr = window.devicePixelRatio || 1;
		const w = canvas.clientWidth || 600, h = canvas.clientHeight || 90;
		canvas.width = w * dpr;
		canvas.height = h * dpr;
		const g = canvas.getContext("2d");
		g.scale(dpr, dpr);
		g.clearRect(0, 0, w, h);
		const max = Math.max(10, ...samples.filter((v) => v !== null)) * 1.15;
		const step = w / samples.length;
		g.font = "11px sans-serif";
		g.fillStyle = "#888";
		g.fillText("round trip per probe, up to " + Math.round(max) + " ms; red: lost", 4, 12);
		samples.forEach((v, i) => {
			if (v === null) {
				g.fillStyle = "#cf222e";
				g.fillRect(i * step + 1, 16, Math.max(1, step - 2), h - 16);
			} else {
				const bar = Math.max(1, ((h - 18) * v) / max);
				g.fillStyle = "#2f81f7";
				g.fillRect(i * step + 1, h - bar, Math.max(1, step - 2), bar);
			}
		});
	}

	function render(res, card) {
		card.textContent = "";
		const h = el("h2");
		h.append(el("span", null, res.transport + " " + res.port));
		const verdictText = { ok: "works", warn: "degraded", fail: "fails", run: "testing…" };
		h.append(el("span", "verdict " + (res.verdict === "run" ? "run" : res.verdict === "ok" ? "ok"
			: res.verdict === "warn" ? "warn" : "bad"), verdictText[res.verdict]));
		h.append(el("span", "url", res.url));
		card.append(h);
		if (res.reason) card.append(el("p", null, res.reason));
		const dl = el("dl");
		const row = (k, v) => {
			dl.append(el("dt", null, k));
			dl.append(el("dd", null, v));
		};
		const pair = res.selected_pair;
		const cand = (c) => c ? c.type + " " + c.address + ":" + c.port +
			(c.relay_protocol ? " (to relay over " + c.relay_protocol + ")" : "") : "?";
		row("Candidates gathered", res.candidates === null ? "…" : String(res.candidates));
		row("Selected pair", pair ? cand(pair.local) + " ⇄ " + cand(pair.remote) : "—");
		row("Round trip", res.rtt_ms === null ? "—" : res.rtt_ms + " ms (median)" +
			(pair && pair.rtt_ms !== null ? ", ICE " + pair.rtt_ms + " ms" : ""));
		row("Loss", res.loss === null ? "—" : Math.round(res.loss * 1000) / 10 + " %");
		row("Throughput", res.throughput_kbps === null ? "—"
			: (res.throughput_kbps / 1000).toFixed(1) + " Mbit/s (" +
			  Math.round(res.transfer_bytes / 1024) + " KiB" +
			  (res.transfer_complete ? ")" : " before the time ran out)"));
		card.append(dl);
		if (res.rtt_samples_ms.some((v) => v !== null) || res.loss !== null) {
			const canvas = el("canvas");
			card.append(canvas);
			drawChart(canvas, res.rtt_samples_ms);
		}
	}

	function finish(status, bad) {
		result.finished = new Date().toISOString();
		result.done = true;
		$("status").textContent = status;
		$("status").className = "status" + (bad ? " bad" : "");
		$("json").value = JSON.stringify(result, null, 2);
		$("actions").hidden = false;
		window.ntsDiag = result;
	}

	async function run() {
		const link = decodeURIComponent(location.hash.replace(/^#/, ""));
		result = {
			tool: "nts connectivity test", version: 1, started: new Date().toISOString(),
			finished: null, done: false, ok: false, error: null, http_status: null,
			account_sid: null, user_agent: navigator.userAgent, transports: [],
		};
		window.ntsDiag = result;
		$("results").textContent = "";
		$("actions").hidden = true;
		if (!link) {
			result.error = "This page needs a diag link (ntsctl diag-link prints one).";
			return finish(result.error, true);
		}
		$("status").textContent = "Getting credentials…";
		let token;
		try {
			token = await fetchToken(link);
		} catch (e) {
			result.error = e.message;
			result.http_status = e.status || null;
			// 401 and 403 come with the service's own words ("Link expired: ...").
			return finish((e.status === 401 || e.status === 403 ? ""
				: "Cannot get credentials: ") + e.message, true);
		}
		result.account_sid = token.account_sid;
		const servers = (token.ice_servers || []).filter((s) => /^turns?:/i.test(s.urls));
		if (servers.length === 0) {
			result.error = "The service offers no TURN server.";
			return finish(result.error, true);
		}
		// No credential goes into the result: it is meant to be pasted into a ticket.
		result.transports = servers.map((s) => Object.assign(describe(s.urls), {
			url: s.urls, verdict: "run", reason: null, candidates: null, connect_ms: null,
			selected_pair: null, rtt_ms: null, rtt_samples_ms: new Array(PINGS).fill(null),
			loss: null, throughput_kbps: null, transfer_bytes: null, transfer_complete: null,
		}));
		for (const r of result.transports) {
			r.transport = r.kind;
			delete r.kind;
		}
		const cards = result.transports.map(() => $("results").appendChild(el("section", "card")));
		result.transports.forEach((r, i) => render(r, cards[i]));
		for (let i = 0; i < servers.length; i++) {
			const r = result.transports[i];
			$("status").textContent = "Testing " + r.transport + " " + r.port + "…";
			await runOne(servers[i], r, () => render(r, cards[i]));
			render(r, cards[i]);
		}
		const failed = result.transports.filter((r) => r.verdict === "fail");
		result.ok = failed.length === 0;
		finish(result.ok ? "Every transport works from this network."
			: failed.map((r) => r.transport + " " + r.port).join(", ") +
			  (failed.length === 1 ? " fails" : " fail") + " from this network; see below.",
			!result.ok);
	}

	async function copy() {
		const text = $("json").value;
		try {
			await navigator.clipboard.writeText(text);
			$("copied").textContent = "Copied.";
		} catch (e) {
			$("json").select(); // insecure origins have no clipboard API: select for Ctrl+C
			$("copied").textContent = "Selected below: press Ctrl+C to copy.";
		}
	}

	$("copy").addEventListener("click", copy);
	$("rerun").addEventListener("click", () => run());
	run();
})();
