#!/usr/bin/env python3
"""libsrtp (through pylibsrtp) as a line-oriented peer for sigil-srtp's interop tests.

Reads commands from stdin, one per line, and answers each with one line:

    new ID PROFILE DIRECTION KEYHEX   -> "ok"
        PROFILE: 80 | 32 (AES_CM_128_HMAC_SHA1_80 / _32)
        DIRECTION: out (ssrc_any_outbound) | in (ssrc_any_inbound)
    protect ID HEX | unprotect ID HEX | protect_rtcp ID HEX | unprotect_rtcp ID HEX
        -> the resulting packet as hex, or "error: <libsrtp's reason>"
"""
import sys

import pylibsrtp

PROFILES = {
    "80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
DIRECTIONS = {
    "out": pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
    "in": pylibsrtp.Policy.SSRC_ANY_INBOUND,
}


def main() -> None:
    sessions = {}
    out = []
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        try:
            if command == "new":
                _, ident, profile, direction, key = words
                policy = pylibsrtp.Policy(
                    key=bytes.fromhex(key),
                    ssrc_type=DIRECTIONS[direction],
                    srtp_profile=PROFILES[profile],
                )
                sessions[ident] = pylibsrtp.Session(policy=policy)
                out.append("ok")
            else:
                _, ident, packet = words
                session = sessions[ident]
                result = getattr(session, command)(bytes.fromhex(packet))
                out.append(result.hex())
        except pylibsrtp.Error as error:
            out.append("error: %s" % error)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
