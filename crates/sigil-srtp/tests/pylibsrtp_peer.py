#!/usr/bin/env python3
"""libsrtp (through pylibsrtp) as a line-oriented peer for sigil-srtp's interop tests.

Reads commands from stdin, one per line, and answers each with one line:

    new ID PROFILE DIRECTION KEYHEX   -> "ok"
        PROFILE: 80 | 32 (AES_CM_128_HMAC_SHA1_80 / _32),
                 256_80 | 256_32 (AES_256_CM_HMAC_SHA1_80 / _32),
                 gcm128 | gcm256 (AEAD_AES_128_GCM / AEAD_AES_256_GCM)
        DIRECTION: out (ssrc_any_outbound) | in (ssrc_any_inbound)
    protect ID HEX | unprotect ID HEX | protect_rtcp ID HEX | unprotect_rtcp ID HEX
        -> the resulting packet as hex, or "error: <libsrtp's reason>"
"""
import struct
import sys

import pylibsrtp
from pylibsrtp._binding import ffi

PROFILES = {
    "80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    # The GCM profiles are libsrtp's srtp_profile_t values 7 and 8.
    "gcm128": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "gcm256": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}

# libsrtp has no DTLS-SRTP profile for AES-256-CM, and pylibsrtp declares
# srtp_crypto_policy_t opaque; its six 32-bit fields are (cipher_type,
# cipher_key_len, auth_type, auth_key_len, auth_tag_len, sec_serv), as
# srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80/_32 fill them:
# SRTP_AES_ICM_256 = 5, 32 + 14 key bytes, SRTP_HMAC_SHA1 = 3, 20, tag,
# sec_serv_conf_and_auth = 3. SRTCP always takes the 80-bit tag.
AES_256_CM = {"256_80": 10, "256_32": 4}


def set_crypto_policy(crypto_policy, tag_len):
    raw = struct.pack("<6i", 5, 46, 3, 20, tag_len, 3)
    buffer = ffi.buffer(ffi.addressof(crypto_policy))
    assert len(buffer) == len(raw), "srtp_crypto_policy_t is not six ints"
    buffer[:] = raw
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
                if profile in AES_256_CM:
                    policy = pylibsrtp.Policy(
                        key=bytes.fromhex(key), ssrc_type=DIRECTIONS[direction]
                    )
                    set_crypto_policy(policy._policy.rtp, AES_256_CM[profile])
                    set_crypto_policy(policy._policy.rtcp, 10)
                else:
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
