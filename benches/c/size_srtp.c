/* The smallest use of Sigil's SRTP C API, for measuring what linking
 * libsigil_ffi.a adds to a stripped C program (see crates/sigil-ffi/README.md). */
#include <stdint.h>
#include <stdio.h>

#include "sigil.h"

int main(void) {
    static const uint8_t key[30] = {1};
    uint8_t packet[64 + SIGIL_SRTP_MAX_TRAILER_LEN] = {0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
    size_t len = 64;
    sigil_srtp *tx = NULL, *rx = NULL;
    sigil_srtp_create(&tx, SIGIL_SRTP_OUTBOUND, "AES_CM_128_HMAC_SHA1_80", key, sizeof key, NULL);
    sigil_srtp_create(&rx, SIGIL_SRTP_INBOUND, "AES_CM_128_HMAC_SHA1_80", key, sizeof key, NULL);
    sigil_status st = sigil_srtp_protect_rtp(tx, packet, &len, sizeof packet);
    if (st == SIGIL_STATUS_OK) st = sigil_srtp_unprotect_rtp(rx, packet, &len);
    printf("%s\n", sigil_strerror(st));
    sigil_srtp_free(tx);
    sigil_srtp_free(rx);
    return st == SIGIL_STATUS_OK ? 0 : 1;
}
