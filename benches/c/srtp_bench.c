/*
 * SRTP through Sigil's C API next to libsrtp, in one process: protect and
 * unprotect of 160-byte and 1200-byte RTP payloads, AES_CM_128_HMAC_SHA1_80,
 * thread CPU time (fair on a shared machine).
 *
 *   cargo build -p sigil-ffi --release
 *   gcc -O2 -I crates/sigil-ffi/include benches/c/srtp_bench.c \
 *       target/release/libsigil_ffi.a -lsrtp2 -lpthread -ldl -lm -o /tmp/srtp_bench
 *   /tmp/srtp_bench [PACKETS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <srtp2/srtp.h>

#include "sigil.h"

#define MAX_PACKET 1500

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t make_rtp(uint8_t *p, uint32_t seq, size_t payload) {
    memset(p, 0, 12);
    p[0] = 0x80;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[8] = 0xde;
    p[9] = 0xca;
    p[10] = 0xfb;
    p[11] = 0xad;
    for (size_t i = 0; i < payload; i++) p[12 + i] = (uint8_t)i;
    return 12 + payload;
}

static srtp_t libsrtp(uint8_t *key, srtp_ssrc_type_t type) {
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    srtp_crypto_policy_set_rtp_default(&policy.rtp);
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    policy.ssrc.type = type;
    policy.key = key;
    policy.window_size = 128;
    srtp_t s = NULL;
    if (srtp_create(&s, &policy) != srtp_err_status_ok) exit(2);
    return s;
}

int main(int argc, char **argv) {
    unsigned packets = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
    uint8_t key[30];
    for (int i = 0; i < 30; i++) key[i] = (uint8_t)(i * 7 + 3);
    srtp_init();
    printf("libsrtp %s, sigil %s, %u packets per measurement, AES_CM_128_HMAC_SHA1_80\n",
           srtp_get_version_string(), sigil_version(), packets);
    printf("%-8s %-10s %14s %14s %8s\n", "payload", "operation", "sigil pkt/s", "libsrtp pkt/s", "ratio");
    static const size_t sizes[2] = {160, 1200};
    uint8_t (*stored)[MAX_PACKET] = malloc((size_t)65536 * MAX_PACKET);
    size_t *lens = malloc(65536 * sizeof *lens);
    if (stored == NULL || lens == NULL) return 2;
    for (int si = 0; si < 2; si++) {
        size_t payload = sizes[si];
        double rate[2][2]; /* [sigil, libsrtp][protect, unprotect] */
        for (int impl = 0; impl < 2; impl++) {
            uint8_t k1[30], k2[30];
            memcpy(k1, key, 30);
            memcpy(k2, key, 30);
            sigil_srtp *stx = NULL, *srx = NULL;
            srtp_t ltx = NULL, lrx = NULL;
            if (impl == 0) {
                sigil_srtp_create(&stx, SIGIL_SRTP_OUTBOUND, "AES_CM_128_HMAC_SHA1_80", key, 30, NULL);
                sigil_srtp_create(&srx, SIGIL_SRTP_INBOUND, "AES_CM_128_HMAC_SHA1_80", key, 30, NULL);
            } else {
                ltx = libsrtp(k1, ssrc_any_outbound);
                lrx = libsrtp(k2, ssrc_any_inbound);
            }
            /* Protect: `packets` packets, each built in place first (the same work for both). */
            uint8_t buf[MAX_PACKET];
            double t0 = now();
            for (unsigned i = 0; i < packets; i++) {
                size_t len = make_rtp(buf, i, payload);
                if (impl == 0) {
                    sigil_srtp_protect_rtp(stx, buf, &len, sizeof buf);
                } else {
                    int n = (int)len;
                    srtp_protect(ltx, buf, &n);
                }
            }
            rate[impl][0] = packets / (now() - t0);
            /* Unprotect: 65536 packets (one sequence cycle) protected by a fresh sender
             * (ROC 0, as the receiver expects), each copied in then unprotected. */
            uint8_t k3[30];
            memcpy(k3, key, 30);
            sigil_srtp_free(stx);
            stx = NULL;
            if (ltx) srtp_dealloc(ltx);
            ltx = NULL;
            if (impl == 0)
                sigil_srtp_create(&stx, SIGIL_SRTP_OUTBOUND, "AES_CM_128_HMAC_SHA1_80", key, 30, NULL);
            else
                ltx = libsrtp(k3, ssrc_any_outbound);
            for (unsigned i = 0; i < 65536; i++) {
                size_t len = make_rtp(stored[i], i, payload);
                if (impl == 0) {
                    sigil_srtp_protect_rtp(stx, stored[i], &len, MAX_PACKET);
                } else {
                    int n = (int)len;
                    srtp_protect(ltx, stored[i], &n);
                    len = (size_t)n;
                }
                lens[i] = len;
            }
            unsigned count = packets < 65536 ? packets : 65536, ok = 0;
            t0 = now();
            for (unsigned i = 0; i < count; i++) {
                memcpy(buf, stored[i], lens[i]);
                if (impl == 0) {
                    size_t len = lens[i];
                    ok += sigil_srtp_unprotect_rtp(srx, buf, &len) == SIGIL_STATUS_OK;
                } else {
                    int n = (int)lens[i];
                    ok += srtp_unprotect(lrx, buf, &n) == srtp_err_status_ok;
                }
            }
            rate[impl][1] = count / (now() - t0);
            if (ok != count) {
                fprintf(stderr, "only %u of %u packets unprotected\n", ok, count);
                return 1;
            }
            sigil_srtp_free(stx);
            sigil_srtp_free(srx);
            if (ltx) srtp_dealloc(ltx);
            if (lrx) srtp_dealloc(lrx);
        }
        for (int op = 0; op < 2; op++)
            printf("%-8zu %-10s %14.0f %14.0f %7.2fx\n", payload, op ? "unprotect" : "protect", rate[0][op],
                   rate[1][op], rate[0][op] / rate[1][op]);
    }
    free(stored);
    free(lens);
    srtp_shutdown();
    return 0;
}
