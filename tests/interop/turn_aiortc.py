#!/usr/bin/python3
"""Two aiortc peers in one process, relay-only ICE through ntsd: a data channel carries
messages both ways and the nominated ICE pair must be relay <-> relay on both sides.

usage: turn_aiortc.py HOST PORT (--secret S | --user NAME:PASSWORD) [--url URL] [--messages N]
                      [--timeout S]
--url replaces the ICE server URL turn:HOST:PORT?transport=udp (e.g. turn:...?transport=tcp, or
turns:... whose certificate must then be trusted, e.g. through SSL_CERT_FILE).
Prints TAP lines; exits non-zero on failure.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import sys
import time

import aioice
import aiortc
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc import rtcicetransport


def relay_only():
    """iceTransportPolicy "relay": aiortc 1.4 has no RTCConfiguration field for it, so pass aioice's
    own transport policy to the ICE connection it creates (newer aiortc takes the field directly)."""
    if "iceTransportPolicy" in RTCConfiguration.__dataclass_fields__:
        return {"iceTransportPolicy": "relay"}
    original = rtcicetransport.connection_kwargs

    def with_relay_policy(servers):
        kwargs = original(servers)
        kwargs["transport_policy"] = aioice.ice.TransportPolicy.RELAY
        return kwargs

    rtcicetransport.connection_kwargs = with_relay_policy
    return {}


def credentials(args):
    if args.secret:
        # TURN REST scheme: username "<expiry>:<id>", password base64(HMAC-SHA1(secret, username)).
        user = "%d:ACaiortc0000000000000000000000000" % (int(time.time()) + 3600)
        mac = hmac.new(args.secret.encode(), user.encode(), hashlib.sha1).digest()
        return user, base64.b64encode(mac).decode()
    name, _, password = args.user.partition(":")
    return name, password


def nominated(pc):
    """The nominated (selected) candidate pair of pc's ICE connection."""
    ice = pc.sctp.transport.transport  # RTCDtlsTransport -> RTCIceTransport
    conn = ice.iceGatherer._connection
    pairs = list(conn._nominated.values())
    return pairs[0] if pairs else None


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, what):
        self.n += 1
        if not ok:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, what), flush=True)


async def run(args, tap):
    user, password = credentials(args)
    url = args.url or "turn:%s:%d?transport=udp" % (args.host, args.port)
    extra = relay_only()
    config = RTCConfiguration(
        iceServers=[RTCIceServer(urls=[url], username=user, credential=password)], **extra
    )
    pc1, pc2 = RTCPeerConnection(config), RTCPeerConnection(config)
    got1, got2 = [], []
    done1, done2 = asyncio.Event(), asyncio.Event()
    opened = asyncio.Event()
    n = args.messages

    try:
        dc1 = pc1.createDataChannel("nts")

        @dc1.on("open")
        def on_open():
            opened.set()

        @dc1.on("message")
        def on_echo(msg):
            got1.append(msg)
            if len(got1) == n:
                done1.set()

        @pc2.on("datachannel")
        def on_channel(dc2):
            @dc2.on("message")
            def on_message(msg):
                got2.append(msg)
                dc2.send("echo " + msg)
                if len(got2) == n:
                    done2.set()

        await pc1.setLocalDescription(await pc1.createOffer())
        offer = pc1.localDescription
        cands = [l for l in offer.sdp.splitlines() if l.startswith("a=candidate:")]
        tap.check(
            cands and all(" typ relay" in c for c in cands),
            "the offer carries only relay candidates (%d)" % len(cands),
        )
        await pc2.setRemoteDescription(offer)
        await pc2.setLocalDescription(await pc2.createAnswer())
        await pc1.setRemoteDescription(pc2.localDescription)

        await asyncio.wait_for(opened.wait(), args.timeout)
        tap.check(True, "the data channel opens through ntsd")
        for i in range(n):
            dc1.send("message %04d" % i)
        await asyncio.wait_for(asyncio.gather(done1.wait(), done2.wait()), args.timeout)
        want = ["message %04d" % i for i in range(n)]
        tap.check(got2 == want, "%d/%d messages arrived in order" % (len(got2), n))
        tap.check(got1 == ["echo " + m for m in want], "%d/%d echoes came back" % (len(got1), n))
        for name, pc in (("offerer", pc1), ("answerer", pc2)):
            pair = nominated(pc)
            ok = (
                pair is not None
                and pair.local_candidate.type == "relay"
                and pair.remote_candidate.type == "relay"
            )
            desc = (
                "%s %s:%d -> %s %s:%d"
                % (
                    pair.local_candidate.type,
                    pair.local_candidate.host,
                    pair.local_candidate.port,
                    pair.remote_candidate.type,
                    pair.remote_candidate.host,
                    pair.remote_candidate.port,
                )
                if pair
                else "none"
            )
            tap.check(ok, "%s's selected pair is relay <-> relay (%s)" % (name, desc))
    except asyncio.TimeoutError:
        tap.check(False, "the exchange finished within %ds" % args.timeout)
    finally:
        await pc1.close()
        await pc2.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--secret")
    p.add_argument("--user")
    p.add_argument("--url")
    p.add_argument("--messages", type=int, default=120)
    p.add_argument("--timeout", type=int, default=30)
    args = p.parse_args()
    if not args.secret and not args.user:
        p.error("--secret or --user")
    tap = Tap()
    asyncio.run(run(args, tap))
    return 1 if tap.failed or tap.n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
