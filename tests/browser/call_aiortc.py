#!/usr/bin/python3
"""The aiortc end of a relay-only call (tests/browser/webrtc_fastpath.sh): no ICE server, so its
only candidates are host addresses of the peer namespace; Chromium's relay reaches them through
ntsd. Waits for DIR/offer.json, writes DIR/answer.json, echoes every data channel message until
"bye" or the timeout. Prints one JSON line with what it saw.
usage: call_aiortc.py DIR [TIMEOUT_S]
"""
import asyncio
import json
import os
import sys

from aiortc import RTCPeerConnection, RTCSessionDescription


async def wait_file(path, seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no {os.path.basename(path)} within {seconds} s")


async def main(d, timeout):
    pc = RTCPeerConnection()
    seen = {"echoed": 0, "bye": False}
    bye = asyncio.Event()

    @pc.on("datachannel")
    def on_channel(ch):
        @ch.on("message")
        def on_message(msg):
            if msg == "bye":
                seen["bye"] = True
                bye.set()
                return
            ch.send(msg)
            seen["echoed"] += 1

    offer = await wait_file(os.path.join(d, "offer.json"), timeout)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
    await pc.setLocalDescription(await pc.createAnswer())  # gathers every host candidate
    tmp = os.path.join(d, "answer.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}, f)
    os.rename(tmp, os.path.join(d, "answer.json"))
    try:
        await asyncio.wait_for(bye.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    print(json.dumps(seen), flush=True)
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 45))
