/*
 * SRTP interop between Sigil's C API and libsrtp in the same process.
 *
 * For every suite both support (AES_CM_128_HMAC_SHA1_80/_32,
 * AES_256_CM_HMAC_SHA1_80/_32), both ways: Sigil protects and libsrtp
 * unprotects, libsrtp protects and Sigil unprotects, for RTP (crossing a
 * sequence-number wrap, with CSRCs and a header extension) and RTCP; then
 * tampered and replayed packets are refused by each receiver. Also: the
 * RFC 3711 whole-packet vector, MKI (a=crypto "|MKI:len"), a preset
 * roll-over counter and streams added and removed by SSRC.
 *
 * Build (see crates/sigil-ffi/tests/c_programs.rs):
 *   gcc -Wall -Wextra -Werror -I crates/sigil-ffi/include examples/c/srtp_libsrtp.c \
 *       target/debug/libsigil_ffi.a -lsrtp2 -lpthread -ldl -lm -o srtp_libsrtp
 *
 * Prints one line per suite and case; exits 0 when every check passed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "sigil.h"

static int failures = 0;

static void fail(const char *where, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL %s: ", where);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    failures++;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail(__func__, __VA_ARGS__);                                                           \
        }                                                                                          \
    } while (0)

#define BUF_LEN 1600

struct suite {
    const char *name;
    size_t key_len; /* master key + salt */
    void (*rtp)(srtp_crypto_policy_t *);
    void (*rtcp)(srtp_crypto_policy_t *);
};

/* libsrtp spells some of these as macros: wrap them to take their address. */
static void aes128_80(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p); }
static void aes128_32(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p); }
static void aes256_80(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p); }
static void aes256_32(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p); }

/* SRTCP always carries the 80-bit tag (RFC 3711 §3.4, RFC 4568 §6.2). */
static const struct suite SUITES[] = {
    {"AES_CM_128_HMAC_SHA1_80", 30, aes128_80, aes128_80},
    {"AES_CM_128_HMAC_SHA1_32", 30, aes128_32, aes128_80},
    {"AES_256_CM_HMAC_SHA1_80", 46, aes256_80, aes256_80},
    {"AES_256_CM_HMAC_SHA1_32", 46, aes256_32, aes256_80},
};
#define SUITE_COUNT (sizeof SUITES / sizeof SUITES[0])

/* ------------------------------------------------------------ packets */

/* An RTP packet: seq, ssrc, a payload of `payload` bytes; every 7th packet
 * has 2 CSRCs and a 2-word header extension (all left in clear by SRTP). */
static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t payload, int fancy) {
    size_t n = 0;
    p[n++] = fancy ? 0x92 : 0x80; /* V=2, X, CC=2 */
    p[n++] = 0;                   /* PT 0 (PCMU) */
    p[n++] = (uint8_t)(seq >> 8);
    p[n++] = (uint8_t)seq;
    uint32_t ts = (uint32_t)seq * 160u;
    for (int i = 3; i >= 0; i--) p[n++] = (uint8_t)(ts >> (8 * i));
    for (int i = 3; i >= 0; i--) p[n++] = (uint8_t)(ssrc >> (8 * i));
    if (fancy) {
        for (int c = 0; c < 8; c++) p[n++] = (uint8_t)(0xc0 + c); /* two CSRCs */
        p[n++] = 0xbe;                                            /* extension 0xbede */
        p[n++] = 0xde;
        p[n++] = 0;
        p[n++] = 2;                                               /* two words */
        for (int e = 0; e < 8; e++) p[n++] = (uint8_t)(0xe0 + e);
    }
    for (size_t i = 0; i < payload; i++) p[n++] = (uint8_t)(seq * 31u + i);
    return n;
}

/* An RTCP sender report (compound of one) from ssrc with some report data. */
static size_t make_rtcp(uint8_t *p, uint32_t ssrc, unsigned round) {
    size_t n = 0;
    p[n++] = 0x80;
    p[n++] = 200; /* SR */
    p[n++] = 0;
    p[n++] = 6; /* 7 words */
    for (int i = 3; i >= 0; i--) p[n++] = (uint8_t)(ssrc >> (8 * i));
    for (int i = 0; i < 20; i++) p[n++] = (uint8_t)(round * 13u + (unsigned)i);
    return n;
}

/* ------------------------------------------------------------ sessions */

static srtp_t libsrtp_session(const struct suite *s, uint8_t *key, srtp_ssrc_type_t type,
                              uint32_t ssrc, srtp_master_key_t **keys) {
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    s->rtp(&policy.rtp);
    s->rtcp(&policy.rtcp);
    policy.ssrc.type = type;
    policy.ssrc.value = ssrc;
    if (keys != NULL) {
        policy.keys = keys;
        policy.num_master_keys = 1;
    } else {
        policy.key = key;
    }
    policy.window_size = 128;
    srtp_t session = NULL;
    srtp_err_status_t status = srtp_create(&session, &policy);
    if (status != srtp_err_status_ok) {
        fail(__func__, "srtp_create(%s): %d", s->name, (int)status);
        return NULL;
    }
    return session;
}

static sigil_srtp *sigil_session(const struct suite *s, const uint8_t *key, int direction) {
    sigil_srtp *session = NULL;
    char why[256];
    sigil_text error = {why, sizeof why, 0};
    sigil_status status = sigil_srtp_create(&session, direction, s->name, key, s->key_len, &error);
    if (status != SIGIL_STATUS_OK) {
        fail(__func__, "sigil_srtp_create(%s): %s: %s", s->name, sigil_strerror(status), why);
        return NULL;
    }
    return session;
}

static void fill_key(uint8_t *key, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++) key[i] = (uint8_t)(seed * 101u + i * 7u + 1u);
}

/* ------------------------------------------------------------ checks */

/* Sigil protects RTP and RTCP, libsrtp unprotects; the plaintext must come back. */
static int sigil_to_libsrtp(const struct suite *s, const uint8_t *key, unsigned *rtp_ok,
                            unsigned *rtcp_ok) {
    uint8_t key_copy[46];
    memcpy(key_copy, key, s->key_len);
    sigil_srtp *tx = sigil_session(s, key, SIGIL_SRTP_OUTBOUND);
    srtp_t rx = libsrtp_session(s, key_copy, ssrc_any_inbound, 0, NULL);
    int start_failures = failures;
    if (tx == NULL || rx == NULL) goto out;
    const uint32_t ssrc = 0x5157a7e5u;
    for (unsigned i = 0; i < 200; i++) {
        uint8_t plain[BUF_LEN], packet[BUF_LEN];
        uint16_t seq = (uint16_t)(65436u + i); /* wraps after 100 packets */
        size_t len = make_rtp(plain, seq, ssrc, (i * 37u) % 300u, i % 7 == 3);
        memcpy(packet, plain, len);
        size_t n = len;
        sigil_status st = sigil_srtp_protect_rtp(tx, packet, &n, sizeof packet);
        CHECK(st == SIGIL_STATUS_OK, "%s seq %u: sigil protect: %s", s->name, seq, sigil_strerror(st));
        int m = (int)n;
        srtp_err_status_t ls = srtp_unprotect(rx, packet, &m);
        CHECK(ls == srtp_err_status_ok, "%s seq %u: libsrtp unprotect: %d", s->name, seq, (int)ls);
        if (st == SIGIL_STATUS_OK && ls == srtp_err_status_ok && (size_t)m == len &&
            memcmp(packet, plain, len) == 0) {
            (*rtp_ok)++;
        } else {
            CHECK(0, "%s seq %u: RTP differs after the round trip", s->name, seq);
        }
    }
    for (unsigned i = 0; i < 20; i++) {
        uint8_t plain[BUF_LEN], packet[BUF_LEN];
        size_t len = make_rtcp(plain, ssrc, i);
        memcpy(packet, plain, len);
        size_t n = len;
        sigil_status st = sigil_srtp_protect_rtcp(tx, packet, &n, sizeof packet);
        int m = (int)n;
        srtp_err_status_t ls = srtp_unprotect_rtcp(rx, packet, &m);
        if (st == SIGIL_STATUS_OK && ls == srtp_err_status_ok && (size_t)m == len &&
            memcmp(packet, plain, len) == 0) {
            (*rtcp_ok)++;
        } else {
            CHECK(0, "%s RTCP %u: sigil %s, libsrtp %d", s->name, i, sigil_strerror(st), (int)ls);
        }
    }
out:
    sigil_srtp_free(tx);
    if (rx != NULL) srtp_dealloc(rx);
    return failures == start_failures;
}

/* libsrtp protects RTP and RTCP, Sigil unprotects. */
static int libsrtp_to_sigil(const struct suite *s, const uint8_t *key, unsigned *rtp_ok,
                            unsigned *rtcp_ok) {
    uint8_t key_copy[46];
    memcpy(key_copy, key, s->key_len);
    srtp_t tx = libsrtp_session(s, key_copy, ssrc_any_outbound, 0, NULL);
    sigil_srtp *rx = sigil_session(s, key, SIGIL_SRTP_INBOUND);
    int start_failures = failures;
    if (tx == NULL || rx == NULL) goto out;
    const uint32_t ssrc = 0x0badcafeu;
    for (unsigned i = 0; i < 200; i++) {
        uint8_t plain[BUF_LEN], packet[BUF_LEN];
        uint16_t seq = (uint16_t)(65500u + i);
        size_t len = make_rtp(plain, seq, ssrc, (i * 53u) % 400u, i % 7 == 5);
        memcpy(packet, plain, len);
        int m = (int)len;
        srtp_err_status_t ls = srtp_protect(tx, packet, &m);
        size_t n = (size_t)m;
        sigil_status st = sigil_srtp_unprotect_rtp(rx, packet, &n);
        if (ls == srtp_err_status_ok && st == SIGIL_STATUS_OK && n == len &&
            memcmp(packet, plain, len) == 0) {
            (*rtp_ok)++;
        } else {
            CHECK(0, "%s seq %u: libsrtp %d, sigil %s", s->name, seq, (int)ls, sigil_strerror(st));
        }
    }
    for (unsigned i = 0; i < 20; i++) {
        uint8_t plain[BUF_LEN], packet[BUF_LEN];
        size_t len = make_rtcp(plain, ssrc, i);
        memcpy(packet, plain, len);
        int m = (int)len;
        srtp_err_status_t ls = srtp_protect_rtcp(tx, packet, &m);
        size_t n = (size_t)m;
        sigil_status st = sigil_srtp_unprotect_rtcp(rx, packet, &n);
        if (ls == srtp_err_status_ok && st == SIGIL_STATUS_OK && n == len &&
            memcmp(packet, plain, len) == 0) {
            (*rtcp_ok)++;
        } else {
            CHECK(0, "%s RTCP %u: libsrtp %d, sigil %s", s->name, i, (int)ls, sigil_strerror(st));
        }
    }
out:
    if (tx != NULL) srtp_dealloc(tx);
    sigil_srtp_free(rx);
    return failures == start_failures;
}

/* Tampering and replay, refused by each receiver for packets of the other:
 * a flipped payload bit, a flipped tag bit, a replayed packet and one behind
 * the replay window, for RTP; a flipped bit and a replay for RTCP. A refused
 * packet is left unchanged by Sigil. */
static int refusals(const struct suite *s, const uint8_t *key, unsigned *refused) {
    int start_failures = failures;
    uint8_t k1[46], k2[46];
    memcpy(k1, key, s->key_len);
    memcpy(k2, key, s->key_len);
    sigil_srtp *sigil_tx = sigil_session(s, key, SIGIL_SRTP_OUTBOUND);
    sigil_srtp *sigil_rx = sigil_session(s, key, SIGIL_SRTP_INBOUND);
    srtp_t lib_tx = libsrtp_session(s, k1, ssrc_any_outbound, 0, NULL);
    srtp_t lib_rx = libsrtp_session(s, k2, ssrc_any_inbound, 0, NULL);
    if (!sigil_tx || !sigil_rx || !lib_tx || !lib_rx) goto out;

    /* Packets from each sender: seq 1000..1299, kept for replays. */
    static uint8_t from_sigil[300][BUF_LEN], from_lib[300][BUF_LEN];
    size_t sigil_len[300], lib_len[300];
    for (unsigned i = 0; i < 300; i++) {
        uint8_t plain[BUF_LEN];
        size_t len = make_rtp(plain, (uint16_t)(1000 + i), 0x1234u, 160, 0);
        memcpy(from_sigil[i], plain, len);
        sigil_len[i] = len;
        sigil_status st = sigil_srtp_protect_rtp(sigil_tx, from_sigil[i], &sigil_len[i], BUF_LEN);
        CHECK(st == SIGIL_STATUS_OK, "%s: protect %u: %s", s->name, i, sigil_strerror(st));
        memcpy(from_lib[i], plain, len);
        int m = (int)len;
        CHECK(srtp_protect(lib_tx, from_lib[i], &m) == srtp_err_status_ok, "%s: libsrtp protect", s->name);
        lib_len[i] = (size_t)m;
    }

    uint8_t work[BUF_LEN];
    size_t n;
    int m;
    sigil_status st;
    srtp_err_status_t ls;

    /* 1. Tampered payload bit, then tampered tag bit. */
    for (int where = 0; where < 2; where++) {
        memcpy(work, from_lib[0], lib_len[0]);
        size_t at = where == 0 ? 20 : lib_len[0] - 1;
        work[at] ^= 0x01;
        uint8_t before[BUF_LEN];
        memcpy(before, work, lib_len[0]);
        n = lib_len[0];
        st = sigil_srtp_unprotect_rtp(sigil_rx, work, &n);
        CHECK(st == SIGIL_STATUS_AUTH_FAIL, "%s: sigil accepted a tampered libsrtp packet (%s)", s->name,
              sigil_strerror(st));
        CHECK(n == lib_len[0] && memcmp(before, work, n) == 0, "%s: a refused packet was changed", s->name);
        if (st == SIGIL_STATUS_AUTH_FAIL) (*refused)++;

        memcpy(work, from_sigil[0], sigil_len[0]);
        at = where == 0 ? 20 : sigil_len[0] - 1;
        work[at] ^= 0x01;
        m = (int)sigil_len[0];
        ls = srtp_unprotect(lib_rx, work, &m);
        CHECK(ls == srtp_err_status_auth_fail, "%s: libsrtp accepted a tampered sigil packet (%d)", s->name, (int)ls);
        if (ls == srtp_err_status_auth_fail) (*refused)++;
    }

    /* 2. Deliver all 300, then replay one: refused as a replay. */
    for (unsigned i = 0; i < 300; i++) {
        memcpy(work, from_lib[i], lib_len[i]);
        n = lib_len[i];
        st = sigil_srtp_unprotect_rtp(sigil_rx, work, &n);
        CHECK(st == SIGIL_STATUS_OK, "%s: sigil unprotect %u: %s", s->name, i, sigil_strerror(st));
        memcpy(work, from_sigil[i], sigil_len[i]);
        m = (int)sigil_len[i];
        ls = srtp_unprotect(lib_rx, work, &m);
        CHECK(ls == srtp_err_status_ok, "%s: libsrtp unprotect %u: %d", s->name, i, (int)ls);
    }
    memcpy(work, from_lib[250], lib_len[250]);
    n = lib_len[250];
    st = sigil_srtp_unprotect_rtp(sigil_rx, work, &n);
    CHECK(st == SIGIL_STATUS_REPLAY_FAIL, "%s: sigil replay: %s", s->name, sigil_strerror(st));
    if (st == SIGIL_STATUS_REPLAY_FAIL) (*refused)++;
    memcpy(work, from_sigil[250], sigil_len[250]);
    m = (int)sigil_len[250];
    ls = srtp_unprotect(lib_rx, work, &m);
    CHECK(ls == srtp_err_status_replay_fail, "%s: libsrtp replay: %d", s->name, (int)ls);
    if (ls == srtp_err_status_replay_fail) (*refused)++;

    /* 3. A packet 299 behind the newest: behind the 128-packet window. */
    memcpy(work, from_lib[0], lib_len[0]);
    n = lib_len[0];
    st = sigil_srtp_unprotect_rtp(sigil_rx, work, &n);
    CHECK(st == SIGIL_STATUS_REPLAY_OLD, "%s: sigil too old: %s", s->name, sigil_strerror(st));
    if (st == SIGIL_STATUS_REPLAY_OLD) (*refused)++;
    memcpy(work, from_sigil[0], sigil_len[0]);
    m = (int)sigil_len[0];
    ls = srtp_unprotect(lib_rx, work, &m);
    CHECK(ls == srtp_err_status_replay_old, "%s: libsrtp too old: %d", s->name, (int)ls);
    if (ls == srtp_err_status_replay_old) (*refused)++;

    /* 4. RTCP: one packet each way, tampered, then genuine, then replayed. */
    {
        uint8_t a[BUF_LEN], b[BUF_LEN];
        size_t alen = make_rtcp(a, 0x1234u, 1), blen = make_rtcp(b, 0x1234u, 2);
        size_t an = alen;
        CHECK(sigil_srtp_protect_rtcp(sigil_tx, a, &an, sizeof a) == SIGIL_STATUS_OK, "%s: rtcp protect", s->name);
        int bm = (int)blen;
        CHECK(srtp_protect_rtcp(lib_tx, b, &bm) == srtp_err_status_ok, "%s: libsrtp rtcp protect", s->name);

        memcpy(work, b, (size_t)bm);
        work[10] ^= 0x80;
        n = (size_t)bm;
        st = sigil_srtp_unprotect_rtcp(sigil_rx, work, &n);
        CHECK(st == SIGIL_STATUS_AUTH_FAIL, "%s: sigil tampered rtcp: %s", s->name, sigil_strerror(st));
        if (st == SIGIL_STATUS_AUTH_FAIL) (*refused)++;
        memcpy(work, a, an);
        work[10] ^= 0x80;
        m = (int)an;
        ls = srtp_unprotect_rtcp(lib_rx, work, &m);
        CHECK(ls == srtp_err_status_auth_fail, "%s: libsrtp tampered rtcp: %d", s->name, (int)ls);
        if (ls == srtp_err_status_auth_fail) (*refused)++;

        for (int round = 0; round < 2; round++) {
            memcpy(work, b, (size_t)bm);
            n = (size_t)bm;
            st = sigil_srtp_unprotect_rtcp(sigil_rx, work, &n);
            memcpy(work, a, an);
            m = (int)an;
            ls = srtp_unprotect_rtcp(lib_rx, work, &m);
            if (round == 0) {
                CHECK(st == SIGIL_STATUS_OK && ls == srtp_err_status_ok, "%s: rtcp: sigil %s, libsrtp %d",
                      s->name, sigil_strerror(st), (int)ls);
            } else {
                CHECK(st == SIGIL_STATUS_REPLAY_FAIL, "%s: sigil rtcp replay: %s", s->name, sigil_strerror(st));
                CHECK(ls == srtp_err_status_replay_fail, "%s: libsrtp rtcp replay: %d", s->name, (int)ls);
                if (st == SIGIL_STATUS_REPLAY_FAIL) (*refused)++;
                if (ls == srtp_err_status_replay_fail) (*refused)++;
            }
        }
    }

    /* The reason in words, never with the key. */
    {
        char why[256];
        sigil_text text = {why, sizeof why, 0};
        CHECK(sigil_srtp_last_error(sigil_rx, &text) == SIGIL_STATUS_OK && strstr(why, "replayed") != NULL,
              "%s: last error: %s", s->name, why);
    }
out:
    sigil_srtp_free(sigil_tx);
    sigil_srtp_free(sigil_rx);
    if (lib_tx != NULL) srtp_dealloc(lib_tx);
    if (lib_rx != NULL) srtp_dealloc(lib_rx);
    return failures == start_failures;
}

/* Base64 (for a=crypto inline keys). */
static void base64(const uint8_t *in, size_t len, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = A[(v >> 18) & 63];
        out[o++] = A[(v >> 12) & 63];
        out[o++] = i + 1 < len ? A[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? A[v & 63] : '=';
    }
    out[o] = '\0';
}

/* MKI: Sigil keyed from "a=crypto:1 SUITE inline:KEY|2^31|7:4", libsrtp with
 * a master key whose MKI is 00 00 00 07; both ways, RTP and RTCP. */
static int mki(const struct suite *s, const uint8_t *key) {
    int start_failures = failures;
    char b64[80], line[200];
    base64(key, s->key_len, b64);
    snprintf(line, sizeof line, "a=crypto:1 %s inline:%s|2^31|7:4", s->name, b64);
    uint8_t mki_id[4] = {0, 0, 0, 7};
    uint8_t k1[46], k2[46];
    memcpy(k1, key, s->key_len);
    memcpy(k2, key, s->key_len);
    srtp_master_key_t mk1 = {k1, mki_id, 4}, mk2 = {k2, mki_id, 4};
    srtp_master_key_t *keys1[1] = {&mk1}, *keys2[1] = {&mk2};
    srtp_t lib_tx = libsrtp_session(s, NULL, ssrc_any_outbound, 0, keys1);
    srtp_t lib_rx = libsrtp_session(s, NULL, ssrc_any_inbound, 0, keys2);
    sigil_srtp *tx = NULL, *rx = NULL;
    CHECK(sigil_srtp_create_from_crypto(&tx, SIGIL_SRTP_OUTBOUND, line, NULL) == SIGIL_STATUS_OK, "%s: mki tx", s->name);
    CHECK(sigil_srtp_create_from_crypto(&rx, SIGIL_SRTP_INBOUND, line, NULL) == SIGIL_STATUS_OK, "%s: mki rx", s->name);
    if (!lib_tx || !lib_rx || !tx || !rx) goto out;
    for (unsigned i = 0; i < 20; i++) {
        uint8_t plain[BUF_LEN], a[BUF_LEN], b[BUF_LEN];
        size_t len = make_rtp(plain, (uint16_t)(7 + i), 0x77u, 100 + i, 0);
        memcpy(a, plain, len);
        memcpy(b, plain, len);
        size_t n = len;
        int m = (int)len;
        CHECK(sigil_srtp_protect_rtp(tx, a, &n, sizeof a) == SIGIL_STATUS_OK, "%s: mki protect", s->name);
        CHECK(srtp_protect_mki(lib_tx, b, &m, 1, 0) == srtp_err_status_ok, "%s: libsrtp mki protect", s->name);
        CHECK(n == (size_t)m && memcmp(a, b, n) == 0, "%s: MKI packets differ byte for byte", s->name);
        int am = (int)n;
        size_t bn = (size_t)m;
        CHECK(srtp_unprotect_mki(lib_rx, a, &am, 1) == srtp_err_status_ok && (size_t)am == len &&
                  memcmp(a, plain, len) == 0,
              "%s: libsrtp did not take sigil's MKI packet", s->name);
        CHECK(sigil_srtp_unprotect_rtp(rx, b, &bn) == SIGIL_STATUS_OK && bn == len && memcmp(b, plain, len) == 0,
              "%s: sigil did not take libsrtp's MKI packet", s->name);
    }
    /* RTCP with MKI. The packets differ in their SRTCP index: RFC 3711
     * §3.3.2 starts it at 0 (Sigil), libsrtp at 1; each side reads the
     * index from the packet, so only the plaintext is compared. */
    for (unsigned i = 0; i < 3; i++) {
        uint8_t plain[BUF_LEN], a[BUF_LEN], b[BUF_LEN], own[BUF_LEN];
        size_t len = make_rtcp(plain, 0x77u, i);
        memcpy(a, plain, len);
        memcpy(b, plain, len);
        size_t n = len;
        int m = (int)len;
        CHECK(sigil_srtp_protect_rtcp(tx, a, &n, sizeof a) == SIGIL_STATUS_OK, "%s: mki rtcp", s->name);
        CHECK(srtp_protect_rtcp_mki(lib_tx, b, &m, 1, 0) == srtp_err_status_ok, "%s: libsrtp mki rtcp", s->name);
        CHECK(n == (size_t)m, "%s: MKI RTCP lengths differ: sigil %zu, libsrtp %d", s->name, n, m);
        memcpy(own, b, (size_t)m);
        size_t bn = (size_t)m;
        sigil_status st = sigil_srtp_unprotect_rtcp(rx, b, &bn);
        CHECK(st == SIGIL_STATUS_OK && bn == len && memcmp(b, plain, len) == 0,
              "%s: sigil refused libsrtp's MKI RTCP: %s", s->name, sigil_strerror(st));
        int am = (int)n;
        srtp_err_status_t ls = srtp_unprotect_rtcp_mki(lib_rx, a, &am, 1);
        if (ls != srtp_err_status_ok && i == 0) {
            /* Does libsrtp take its own packet? If not, the fault is its own. */
            int om = m;
            srtp_err_status_t self = srtp_unprotect_rtcp_mki(lib_rx, own, &om, 1);
            if (self != srtp_err_status_ok) {
                printf("  note: %s: libsrtp %s refuses its own SRTCP with an MKI (status %d) as it refuses "
                       "Sigil's (a libsrtp limitation: with an MKI it finds SRTCP's 80-bit tag only when "
                       "the SRTP tag is 80 bits too)\n",
                       s->name, srtp_get_version_string(), (int)self);
                break;
            }
        }
        CHECK(ls == srtp_err_status_ok && (size_t)am == len && memcmp(a, plain, len) == 0,
              "%s: libsrtp refused sigil's MKI RTCP: %d", s->name, (int)ls);
    }
out:
    sigil_srtp_free(tx);
    sigil_srtp_free(rx);
    if (lib_tx != NULL) srtp_dealloc(lib_tx);
    if (lib_rx != NULL) srtp_dealloc(lib_rx);
    return failures == start_failures;
}

/* A stream joined late with its roll-over counter preset on both sides, and
 * streams added and removed by SSRC with keys of their own. */
static int roc_and_streams(const struct suite *s, const uint8_t *key) {
    int start_failures = failures;
    uint8_t k1[46], other[46], k2[46];
    memcpy(k1, key, s->key_len);
    fill_key(other, s->key_len, 99);
    memcpy(k2, other, s->key_len);
    const uint32_t a = 0xaaaa0001u, b = 0xbbbb0002u;
    srtp_t lib_rx = libsrtp_session(s, k1, ssrc_specific, a, NULL);
    srtp_t lib_tx = libsrtp_session(s, k2, ssrc_specific, b, NULL);
    sigil_srtp *tx = NULL, *rx = NULL;
    /* No default key: only the streams added below. */
    CHECK(sigil_srtp_create(&tx, SIGIL_SRTP_OUTBOUND, NULL, NULL, 0, NULL) == SIGIL_STATUS_OK, "empty tx");
    CHECK(sigil_srtp_create(&rx, SIGIL_SRTP_INBOUND, NULL, NULL, 0, NULL) == SIGIL_STATUS_OK, "empty rx");
    if (!lib_rx || !lib_tx || !tx || !rx) goto out;
    CHECK(sigil_srtp_add_stream(tx, a, s->name, key, s->key_len) == SIGIL_STATUS_OK, "add tx stream");
    CHECK(sigil_srtp_add_stream(tx, a, s->name, key, s->key_len) == SIGIL_STATUS_STREAM_EXISTS, "add twice");
    CHECK(sigil_srtp_add_stream(rx, b, s->name, other, s->key_len) == SIGIL_STATUS_OK, "add rx stream");
    /* A late joiner: ROC 3 on both sides. */
    CHECK(sigil_srtp_set_roc(tx, a, 3) == SIGIL_STATUS_OK, "sigil set roc");
    CHECK(srtp_set_stream_roc(lib_rx, a, 3) == srtp_err_status_ok, "libsrtp set roc");
    CHECK(sigil_srtp_set_roc(rx, b, 3) == SIGIL_STATUS_OK, "sigil set roc rx");
    for (unsigned i = 0; i < 10; i++) {
        uint8_t plain[BUF_LEN], p[BUF_LEN];
        size_t len = make_rtp(plain, (uint16_t)(40000 + i), a, 160, 0);
        memcpy(p, plain, len);
        size_t n = len;
        CHECK(sigil_srtp_protect_rtp(tx, p, &n, sizeof p) == SIGIL_STATUS_OK, "protect a");
        int m = (int)n;
        CHECK(srtp_unprotect(lib_rx, p, &m) == srtp_err_status_ok && (size_t)m == len &&
                  memcmp(p, plain, len) == 0,
              "%s: libsrtp refused a packet of ROC 3", s->name);
        len = make_rtp(plain, (uint16_t)(50000 + i), b, 160, 0);
        memcpy(p, plain, len);
        m = (int)len;
        srtp_set_stream_roc(lib_tx, b, 3);
        CHECK(srtp_protect(lib_tx, p, &m) == srtp_err_status_ok, "libsrtp protect b");
        n = (size_t)m;
        sigil_status st = sigil_srtp_unprotect_rtp(rx, p, &n);
        CHECK(st == SIGIL_STATUS_OK && n == len && memcmp(p, plain, len) == 0,
              "%s: sigil refused libsrtp's packet of ROC 3: %s", s->name, sigil_strerror(st));
    }
    uint32_t roc = 0;
    CHECK(sigil_srtp_get_roc(rx, b, &roc) == SIGIL_STATUS_OK && roc == 3, "get roc: %u", roc);
    /* A packet of an SSRC without a stream, with no default key. */
    {
        uint8_t p[BUF_LEN];
        size_t n = make_rtp(p, 1, 0xcccc0003u, 20, 0);
        CHECK(sigil_srtp_protect_rtp(tx, p, &n, sizeof p) == SIGIL_STATUS_NO_STREAM, "unknown SSRC");
    }
    CHECK(sigil_srtp_remove_stream(rx, b) == SIGIL_STATUS_OK, "remove");
    CHECK(sigil_srtp_remove_stream(rx, b) == SIGIL_STATUS_NO_STREAM, "remove twice");
    {
        uint8_t p[BUF_LEN];
        size_t n = make_rtp(p, 2, b, 20, 0);
        int m = (int)n;
        srtp_protect(lib_tx, p, &m);
        n = (size_t)m;
        CHECK(sigil_srtp_unprotect_rtp(rx, p, &n) == SIGIL_STATUS_NO_STREAM, "removed stream still used");
    }
out:
    sigil_srtp_free(tx);
    sigil_srtp_free(rx);
    if (lib_rx != NULL) srtp_dealloc(lib_rx);
    if (lib_tx != NULL) srtp_dealloc(lib_tx);
    return failures == start_failures;
}

/* The RFC 3711 / libsrtp whole-packet vector (SPEC, "Test vectors"). */
static int vector(void) {
    int start_failures = failures;
    static const uint8_t key[30] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
                                    0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
                                    0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
    static const uint8_t expected[38] = {
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
        0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
        0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
    uint8_t packet[64] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe};
    memset(packet + 12, 0xab, 16);
    uint8_t lib_packet[64];
    memcpy(lib_packet, packet, sizeof packet);
    sigil_srtp *tx = sigil_session(&SUITES[0], key, SIGIL_SRTP_OUTBOUND);
    uint8_t kcopy[30];
    memcpy(kcopy, key, sizeof kcopy);
    srtp_t lib = libsrtp_session(&SUITES[0], kcopy, ssrc_any_outbound, 0, NULL);
    size_t n = 28;
    int m = 28;
    CHECK(tx && sigil_srtp_protect_rtp(tx, packet, &n, sizeof packet) == SIGIL_STATUS_OK, "vector protect");
    CHECK(lib && srtp_protect(lib, lib_packet, &m) == srtp_err_status_ok, "libsrtp vector protect");
    CHECK(n == sizeof expected && memcmp(packet, expected, n) == 0, "sigil differs from the vector");
    CHECK((size_t)m == sizeof expected && memcmp(lib_packet, expected, n) == 0, "libsrtp differs from the vector");
    sigil_srtp_free(tx);
    if (lib != NULL) srtp_dealloc(lib);
    return failures == start_failures;
}

int main(void) {
    if (srtp_init() != srtp_err_status_ok) {
        fprintf(stderr, "srtp_init failed\n");
        return 2;
    }
    printf("libsrtp %s, sigil %s\n", srtp_get_version_string(), sigil_version());
    printf("whole-packet vector (RFC 3711 key, AES_CM_128_HMAC_SHA1_80): %s\n",
           vector() ? "sigil = libsrtp = expected" : "FAILED");
    printf("%-24s  %-22s  %-22s  %-9s  %-4s  %s\n", "suite", "sigil -> libsrtp", "libsrtp -> sigil",
           "refusals", "MKI", "ROC+streams");
    for (size_t i = 0; i < SUITE_COUNT; i++) {
        const struct suite *s = &SUITES[i];
        uint8_t key[46];
        fill_key(key, s->key_len, (unsigned)i + 1);
        unsigned a_rtp = 0, a_rtcp = 0, b_rtp = 0, b_rtcp = 0, refused = 0;
        int forward = sigil_to_libsrtp(s, key, &a_rtp, &a_rtcp);
        int backward = libsrtp_to_sigil(s, key, &b_rtp, &b_rtcp);
        int refusing = refusals(s, key, &refused);
        int with_mki = mki(s, key);
        int streams = roc_and_streams(s, key);
        char fwd[32], bwd[32], ref[16];
        snprintf(fwd, sizeof fwd, "%s %u RTP %u RTCP", forward ? "ok" : "FAIL", a_rtp, a_rtcp);
        snprintf(bwd, sizeof bwd, "%s %u RTP %u RTCP", backward ? "ok" : "FAIL", b_rtp, b_rtcp);
        snprintf(ref, sizeof ref, "%s %u/12", refusing ? "ok" : "FAIL", refused);
        printf("%-24s  %-22s  %-22s  %-9s  %-4s  %s\n", s->name, fwd, bwd, ref, with_mki ? "ok" : "FAIL",
               streams ? "ok" : "FAIL");
    }
    srtp_shutdown();
    if (failures != 0) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
