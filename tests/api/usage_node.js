// The npm `twilio` package, unmodified, on ntsd's Usage Records (the counterpart of usage.py's
// "api" checks): the master reads its records with and without its subaccount, per day and today,
// and its subaccount's; megabytes are compared with the bytes the test relayed.
//
// usage: NODE_PATH=build/npm/node_modules node usage_node.js BASE_URL MASTER_SID MASTER_TOKEN
//        SUB_SID MASTER_BYTES SUB_BYTES FIRST_TAP_NUMBER
// Prints TAP lines from FIRST_TAP_NUMBER, then "# next N".
"use strict";
const twilio = require("twilio");

const [baseUrl, master, token, sub, masterBytes, subBytes, first] = process.argv.slice(2);
let n = Number(first);
let failed = false;

function check(cond, what) {
  console.log(`${cond ? "ok" : "not ok"} ${n} - npm twilio: ${what}`);
  n += 1;
  if (!cond) failed = true;
}

// A record's usage in bytes: megabytes of 10^6 bytes with up to 6 decimals, read exactly.
function bytesOf(r) {
  const [whole, frac = ""] = String(r.usage).split(".");
  return Number(whole) * 1000000 + Number((frac + "000000").slice(0, 6));
}

async function main() {
  const c = twilio(master, token);
  c.api.baseUrl = baseUrl; // nothing patched: the domain's documented base URL property
  const total = Number(masterBytes) + Number(subBytes);

  const all = await c.usage.records.list({ category: "turnmegabytes" });
  check(all.length === 1 && bytesOf(all[0]) === total && all[0].usageUnit === "megabytes",
        `usage.records.list(): ${all.length && all[0].usage} MB, the master's and its subaccount's ${total} bytes`);
  const own = await c.usage.records.list({ category: "turnmegabytes", includeSubaccounts: false });
  check(own.length === 1 && bytesOf(own[0]) === Number(masterBytes),
        `includeSubaccounts: false gives the master's own ${masterBytes} bytes`);
  const today = new Date().toISOString().slice(0, 10);
  const daily = await c.usage.records.daily.list({ category: "turnmegabytes", startDate: today });
  check(daily.length === 1 && bytesOf(daily[0]) === total, "usage.records.daily.list(startDate: today)");
  const now = await c.usage.records.today.list({ category: "turnmegabytes" });
  check(now.length === 1 && bytesOf(now[0]) === total && Number(now[0].count) >= 2,
        `usage.records.today.list(): count ${now.length && now[0].count} allocations`);
  const s = await c.api.v2010.accounts(sub).usage.records.today.list({ category: "turnmegabytes" });
  check(s.length === 1 && bytesOf(s[0]) === Number(subBytes) && s[0].accountSid === sub,
        `the master reads its subaccount's records (${subBytes} bytes)`);
}

main()
  .catch((e) => check(false, `the client ran without an error (${e.status || ""} ${e.message})`))
  .finally(() => {
    console.log(`# next ${n}`);
    process.exitCode = failed ? 1 : 0;
  });
