// The npm `twilio` package, unmodified, on ntsd's Account and Key resources.
//
// usage: NODE_PATH=build/npm/node_modules node twilio_accounts.js BASE_URL MASTER_SID
//        MASTER_TOKEN TURN_HOST TURN_PORT FIRST_TAP_NUMBER
// Environment: PY (python3), TURN_ALLOC (tests/api/turn_alloc.py), NTSCTL_ARGS (ntsctl and its
// global options, JSON array) for the operator's side. As in twilio_client.js the only change
// from talking to Twilio is client.api.baseUrl. Prints TAP lines from FIRST_TAP_NUMBER, then
// "# next N".
"use strict";
const twilio = require("twilio");
const { execFileSync } = require("child_process");

const [baseUrl, master, masterToken, turnHost, turnPort, first] = process.argv.slice(2);
const ntsctlArgs = JSON.parse(process.env.NTSCTL_ARGS);
let n = Number(first);
let failed = false;

function check(cond, what) {
  console.log(`${cond ? "ok" : "not ok"} ${n} - npm twilio: ${what}`);
  n += 1;
  if (!cond) failed = true;
}

function clientFor(user, password, accountSid) {
  const c = twilio(user, password, accountSid ? { accountSid } : {});
  c.api.baseUrl = baseUrl; // nothing patched: the domain's documented base URL property
  return c;
}

async function rejects(promise, status, code, what) {
  try {
    await promise;
    check(false, `${what}: rejects with ${status} / ${code} (it succeeded)`);
  } catch (e) {
    check(e.status === status && e.code === code,
          `${what}: rejects with ${status} / ${code} (got ${e.status} / ${e.code})`);
  }
}

// The first word of turn_alloc.py's answer for the token's credentials: "ok" or "error".
function allocate(tok) {
  try {
    return execFileSync(process.env.PY, [process.env.TURN_ALLOC, turnHost, turnPort, tok.username,
                                          tok.password], { timeout: 20000 }).toString().trim();
  } catch (e) {
    return (e.stdout || "").toString().trim() || "failed";
  }
}

function ntsctl(...args) {
  return execFileSync(ntsctlArgs[0], ntsctlArgs.slice(1).concat(args), { timeout: 20000 })
    .toString();
}

async function main() {
  const m = clientFor(master, masterToken);
  const sub = await m.api.accounts.create({ friendlyName: "node sub" });
  check(/^AC[0-9a-f]{32}$/.test(sub.sid) && sub.ownerAccountSid === master,
        "api.accounts.create() makes a subaccount of the master");
  check(sub.status === "active" && sub.type === "Full" && /^[0-9a-f]{32}$/.test(sub.authToken),
        "it is active, Full, with its authToken in the creation answer");
  check(sub.dateCreated instanceof Date && !isNaN(sub.dateCreated.getTime()),
        "dateCreated parses as an RFC 2822 date");
  check(sub.subresourceUris.keys === `/2010-04-01/Accounts/${sub.sid}/Keys.json`,
        "subresourceUris names its Keys");
  const fetched = await m.api.accounts(sub.sid).fetch();
  check(fetched.friendlyName === "node sub" && fetched.authToken === null,
        "accounts(sid).fetch() (the authToken is not kept, so null)");
  const sub2 = await m.api.accounts.create({ friendlyName: "node sub 2" });
  const all = (await m.api.accounts.list({ pageSize: 1 })).map((a) => a.sid);
  check(JSON.stringify(all) === JSON.stringify([master, sub.sid, sub2.sid]),
        "accounts.list({pageSize: 1}) walks every page");
  const named = await m.api.accounts.list({ friendlyName: "node sub 2" });
  check(named.length === 1 && named[0].sid === sub2.sid, "accounts.list({friendlyName})");
  check((await m.api.accounts.list({ status: "suspended" })).length === 0,
        "accounts.list({status: 'suspended'}) is empty");

  // Suspension and reactivation through the API.
  const s = clientFor(sub.sid, sub.authToken);
  const tok = await s.tokens.create({ ttl: 600 });
  check(allocate(tok).startsWith("ok "), "the subaccount's token allocates");
  const susp = await m.api.accounts(sub.sid).update({ status: "suspended" });
  check(susp.status === "suspended", "update({status: 'suspended'})");
  check(allocate(tok).startsWith("error 401"), "its token minted before gets 401");
  await rejects(s.tokens.create(), 403, 20005, "the suspended subaccount minting");
  await m.api.accounts(sub.sid).update({ status: "active" });
  check(allocate(tok).startsWith("ok "), "after update({status: 'active'}) it allocates again");
  await rejects(s.api.accounts(master).fetch(), 401, 20003, "a subaccount fetching its master");
  await rejects(s.api.accounts(sub2.sid).fetch(), 404, 20404, "a subaccount fetching a sibling");

  // API keys.
  const key = await m.newKeys.create({ friendlyName: "node key" });
  check(/^SK[0-9a-f]{32}$/.test(key.sid) && typeof key.secret === "string",
        "newKeys.create() gives a key sid and its secret");
  const k = clientFor(key.sid, key.secret, master);
  const ktok = await k.tokens.create({ ttl: 600 });
  check(ktok.accountSid === master && allocate(ktok).startsWith("ok "),
        "twilio(keySid, keySecret, {accountSid}).tokens.create() mints a usable token");
  await rejects(k.api.accounts(master).fetch(), 401, 20003, "key credentials fetching the account");
  await rejects(k.newKeys.create(), 401, 20003, "key credentials creating a key");
  const keys = await m.keys.list();
  check(keys.length === 1 && keys[0].sid === key.sid && keys[0].friendlyName === "node key",
        "keys.list()");
  check((await m.keys(key.sid).update({ friendlyName: "renamed" })).friendlyName === "renamed",
        "keys(sid).update({friendlyName})");
  check((await m.keys(key.sid).remove()) === true, "keys(sid).remove()");
  await rejects(k.tokens.create(), 401, 20003, "the removed key minting");

  // The operator suspends the master: its subaccounts are suspended with it, and come back.
  const tok2 = await clientFor(sub2.sid, sub2.authToken).tokens.create({ ttl: 600 });
  ntsctl("account", "suspend", master);
  check(allocate(tok2).startsWith("error 401"),
        "ntsctl account suspend MASTER: a subaccount's token gets 401");
  await rejects(clientFor(sub2.sid, sub2.authToken).tokens.create(), 403, 20005,
                "a subaccount of a suspended master minting");
  ntsctl("account", "activate", master);
  check(allocate(tok2).startsWith("ok "), "ntsctl account activate MASTER: it allocates again");

  // A master closing itself closes its subaccounts, for good.
  await rejects(m.api.accounts(master).update({ status: "suspended" }), 400, 20001,
                "a master suspending itself");
  const closed = await m.api.accounts(master).update({ status: "closed" });
  check(closed.status === "closed", "a master closes itself");
  const listed = JSON.parse(ntsctl("account", "list", "--json"));
  check(listed.filter((a) => a.status === "closed").length === 3,
        "its subaccounts are closed with it (ntsctl account list)");
  check(allocate(tok2).startsWith("error 401"), "a subaccount's token then gets 401");
  await rejects(m.api.accounts.list(), 403, 20005, "the closed master listing");

  console.log(`# next ${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n} - npm twilio: unexpected failure: ${e}`);
  process.exit(1);
});
