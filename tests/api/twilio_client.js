// The npm `twilio` package, unmodified, as a client of ntsd's token API.
//
// usage: NODE_PATH=build/npm/node_modules node twilio_client.js BASE_URL ACCOUNT_SID AUTH_TOKEN
//        TURN_HOST TURN_PORT FIRST_TAP_NUMBER
// The only change from talking to Twilio is the API domain's base URL (client.api.baseUrl, the
// library's own per-domain setting). Prints TAP lines from FIRST_TAP_NUMBER, then "# next N".
// The credentials it gets are written to stdout as "# creds USERNAME PASSWORD EXPIRY" lines for
// the shell test to try against ntsd's TURN side.
"use strict";
const twilio = require("twilio");

const [baseUrl, sid, token, turnHost, turnPortText, first] = process.argv.slice(2);
const turnPort = Number(turnPortText);
let n = Number(first);
let failed = false;

function check(cond, what) {
  console.log(`${cond ? "ok" : "not ok"} ${n} - npm twilio: ${what}`);
  n += 1;
  if (!cond) failed = true;
}

function clientFor(authToken) {
  const c = twilio(sid, authToken);
  c.api.baseUrl = baseUrl; // nothing patched: the domain's documented base URL property
  return c;
}

function checkToken(t, ttl, what) {
  check(t.accountSid === sid, `${what}: accountSid`);
  check(typeof t.ttl === "string" && t.ttl === String(ttl), `${what}: ttl is the string "${ttl}"`);
  check(t.dateCreated instanceof Date && !isNaN(t.dateCreated.getTime()),
        `${what}: dateCreated parses as an RFC 2822 date`);
  check(t.dateUpdated instanceof Date && t.dateUpdated.getTime() === t.dateCreated.getTime(),
        `${what}: dateUpdated equals dateCreated`);
  const [expiry, userSid] = t.username.split(":");
  check(userSid === sid && /^[0-9]+$/.test(expiry), `${what}: username is <expiry>:<AccountSid>`);
  check(Number(expiry) - t.dateCreated.getTime() / 1000 === ttl,
        `${what}: username expires ttl seconds after dateCreated`);
  check(typeof t.password === "string" && t.password.length === 28,
        `${what}: password is a base64 HMAC-SHA1`);
  const s = t.iceServers;
  check(Array.isArray(s) && s.length >= 3, `${what}: iceServers is an array`);
  check(s.every((e) => typeof e.urls === "string" && e.url === e.urls),
        `${what}: each ice server has url and urls strings`);
  check(s[0].urls === `stun:${turnHost}:${turnPort}` && s[0].username === undefined,
        `${what}: stun server first, without credentials`);
  check(s[1].urls === `turn:${turnHost}:${turnPort}?transport=udp` &&
        s[2].urls === `turn:${turnHost}:${turnPort}?transport=tcp`,
        `${what}: turn udp then turn tcp`);
  check(s.slice(1).every((e) => e.username === t.username && e.credential === t.password),
        `${what}: turn servers carry username and credential`);
}

async function expectError(promise, status, code, what) {
  try {
    await promise;
    check(false, what);
  } catch (e) {
    check(e.status === status && e.code === code, `${what} (${e.status} / ${e.code})`);
  }
}

async function main() {
  const client = clientFor(token);
  const tok = await client.tokens.create();
  checkToken(tok, 86400, "tokens.create()");
  const tokTtl = await client.tokens.create({ ttl: 3600 });
  checkToken(tokTtl, 3600, "tokens.create({ttl: 3600})");
  const tokAcct = await client.api.v2010.accounts(sid).tokens.create({ ttl: 120 });
  check(tokAcct.ttl === "120", "accounts(sid).tokens.create({ttl: 120})");
  const short = await client.tokens.create({ ttl: 1 });
  check(short.ttl === "1", "tokens.create({ttl: 1})");
  await expectError(clientFor("0".repeat(32)).tokens.create(), 401, 20003,
                    "a wrong AuthToken rejects with 401 / 20003");
  await expectError(client.tokens.create({ ttl: 0 }), 400, 20001,
                    "ttl 0 rejects with 400 / 20001");
  console.log(`# creds ${tok.username} ${tok.password}`);
  console.log(`# short ${short.username} ${short.password}`);
  console.log(`# next ${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n} - npm twilio: unexpected failure: ${e}`);
  process.exit(1);
});
