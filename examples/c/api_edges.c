/*
 * The edges of Sigil's C API, from C: every required pointer given as NULL,
 * unknown constants and names, buffers too small, packets too short or
 * garbage, the wrong direction, and sigil_strerror for every status. Nothing
 * may crash, leak or touch memory it was not given (the tests run this under
 * AddressSanitizer and valgrind).
 *
 *   api_edges        exits 0 when every call returned what it should
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil.h"

static int failures = 0, checks = 0;

#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        sigil_status got_ = (call);                                                                \
        checks++;                                                                                  \
        if (got_ != (want)) {                                                                      \
            fprintf(stderr, "FAIL line %d: %s\n  returned %d (%s), wanted %s\n", __LINE__, #call,  \
                    (int)got_, sigil_strerror(got_), #want);                                       \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define N SIGIL_STATUS_NULL_POINTER

static const uint8_t KEY[30] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
static const char *SUITE = "AES_CM_128_HMAC_SHA1_80";
static const char *CRYPTO = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4";

static void srtp_edges(void) {
    sigil_srtp *tx = NULL, *rx = NULL, *s = NULL;
    char why[256];
    sigil_text error = {why, sizeof why, 0};
    uint8_t buf[256] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0xde, 0xca, 0xfb, 0xad};
    size_t len = 40;

    EXPECT(sigil_srtp_create(NULL, SIGIL_SRTP_OUTBOUND, SUITE, KEY, 30, NULL), N);
    EXPECT(sigil_srtp_create(&s, 7, SUITE, KEY, 30, NULL), SIGIL_STATUS_INVALID_ARGUMENT);
    EXPECT(sigil_srtp_create(&s, SIGIL_SRTP_OUTBOUND, SUITE, NULL, 30, NULL), N);
    EXPECT(sigil_srtp_create(&s, SIGIL_SRTP_OUTBOUND, NULL, KEY, 30, NULL), SIGIL_STATUS_INVALID_ARGUMENT);
    EXPECT(sigil_srtp_create(&s, SIGIL_SRTP_OUTBOUND, "AES_CM_128_NULL_AUTH", KEY, 30, &error),
           SIGIL_STATUS_UNKNOWN_SUITE);
    EXPECT(sigil_srtp_create(&s, SIGIL_SRTP_OUTBOUND, SUITE, KEY, 29, &error), SIGIL_STATUS_BAD_KEY);
    if (strstr(why, "30 bytes") == NULL) {
        fprintf(stderr, "FAIL: the key length error does not say what is needed: %s\n", why);
        failures++;
    }
    EXPECT(sigil_srtp_create(&s, SIGIL_SRTP_OUTBOUND, "AES_CM_128_HMAC_SHA1_80\xff", KEY, 30, NULL),
           SIGIL_STATUS_INVALID_ARGUMENT);
    if (s != NULL) {
        fprintf(stderr, "FAIL: a failed create left a handle\n");
        failures++;
    }
    EXPECT(sigil_srtp_create_from_crypto(NULL, SIGIL_SRTP_INBOUND, CRYPTO, NULL), N);
    EXPECT(sigil_srtp_create_from_crypto(&s, SIGIL_SRTP_INBOUND, NULL, NULL), N);
    EXPECT(sigil_srtp_create_from_crypto(&s, SIGIL_SRTP_INBOUND, "1 AES_CM_128_HMAC_SHA1_80 inline:@@@", &error),
           SIGIL_STATUS_BAD_CRYPTO_LINE);
    EXPECT(sigil_srtp_create_from_crypto(&s, SIGIL_SRTP_INBOUND, "1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", &error),
           SIGIL_STATUS_UNKNOWN_SUITE);
    EXPECT(sigil_srtp_create(&tx, SIGIL_SRTP_OUTBOUND, SUITE, KEY, 30, NULL), SIGIL_STATUS_OK);
    EXPECT(sigil_srtp_create_from_crypto(&rx, SIGIL_SRTP_INBOUND, CRYPTO, NULL), SIGIL_STATUS_OK);

    /* NULL arguments of the packet functions. */
    EXPECT(sigil_srtp_protect_rtp(NULL, buf, &len, sizeof buf), N);
    EXPECT(sigil_srtp_protect_rtp(tx, NULL, &len, sizeof buf), N);
    EXPECT(sigil_srtp_protect_rtp(tx, buf, NULL, sizeof buf), N);
    EXPECT(sigil_srtp_unprotect_rtp(NULL, buf, &len), N);
    EXPECT(sigil_srtp_unprotect_rtp(rx, NULL, &len), N);
    EXPECT(sigil_srtp_unprotect_rtp(rx, buf, NULL), N);
    EXPECT(sigil_srtp_protect_rtcp(NULL, buf, &len, sizeof buf), N);
    EXPECT(sigil_srtp_protect_rtcp(tx, NULL, &len, sizeof buf), N);
    EXPECT(sigil_srtp_protect_rtcp(tx, buf, NULL, sizeof buf), N);
    EXPECT(sigil_srtp_unprotect_rtcp(NULL, buf, &len), N);
    EXPECT(sigil_srtp_unprotect_rtcp(rx, NULL, &len), N);
    EXPECT(sigil_srtp_unprotect_rtcp(rx, buf, NULL), N);
    EXPECT(sigil_srtp_add_stream(NULL, 1, SUITE, KEY, 30), N);
    EXPECT(sigil_srtp_add_stream(tx, 1, NULL, KEY, 30), N);
    EXPECT(sigil_srtp_add_stream(tx, 1, SUITE, NULL, 30), N);
    EXPECT(sigil_srtp_add_stream_from_crypto(NULL, 1, CRYPTO), N);
    EXPECT(sigil_srtp_add_stream_from_crypto(tx, 1, NULL), N);
    EXPECT(sigil_srtp_remove_stream(NULL, 1), N);
    uint32_t roc;
    EXPECT(sigil_srtp_get_roc(NULL, 1, &roc), N);
    EXPECT(sigil_srtp_set_roc(NULL, 1, 0), N);
    EXPECT(sigil_srtp_last_error(NULL, &error), N);
    EXPECT(sigil_srtp_last_error(tx, NULL), N);

    /* Lengths and buffers. */
    len = 300;
    EXPECT(sigil_srtp_protect_rtp(tx, buf, &len, sizeof buf), SIGIL_STATUS_INVALID_ARGUMENT);
    len = 40;
    EXPECT(sigil_srtp_protect_rtp(tx, buf, &len, 45), SIGIL_STATUS_BUFFER_TOO_SMALL);
    if (len != 40) {
        fprintf(stderr, "FAIL: a refused protect changed the length\n");
        failures++;
    }
    len = 11;
    EXPECT(sigil_srtp_protect_rtp(tx, buf, &len, sizeof buf), SIGIL_STATUS_BAD_PACKET);
    len = 0;
    EXPECT(sigil_srtp_unprotect_rtp(rx, buf, &len), SIGIL_STATUS_BAD_PACKET);
    len = 3;
    EXPECT(sigil_srtp_unprotect_rtcp(rx, buf, &len), SIGIL_STATUS_BAD_PACKET);
    buf[0] = 0x40; /* RTP version 1 */
    len = 40;
    EXPECT(sigil_srtp_protect_rtp(tx, buf, &len, sizeof buf), SIGIL_STATUS_BAD_PACKET);
    buf[0] = 0x80;
    len = 40;
    EXPECT(sigil_srtp_unprotect_rtp(tx, buf, &len), SIGIL_STATUS_WRONG_DIRECTION);
    EXPECT(sigil_srtp_protect_rtp(rx, buf, &len, sizeof buf), SIGIL_STATUS_WRONG_DIRECTION);

    /* Garbage through unprotect: refused, buffer unchanged. */
    srand(7);
    for (int round = 0; round < 200; round++) {
        uint8_t junk[200], copy[200];
        size_t n = (size_t)(rand() % 200);
        for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)rand();
        if (round % 2) junk[0] = 0x80;
        memcpy(copy, junk, n);
        size_t m = n;
        sigil_status st = round % 3 ? sigil_srtp_unprotect_rtp(rx, junk, &m) : sigil_srtp_unprotect_rtcp(rx, junk, &m);
        checks++;
        if (st == SIGIL_STATUS_OK || m != n || memcmp(junk, copy, n) != 0) {
            fprintf(stderr, "FAIL: garbage packet %d: %s\n", round, sigil_strerror(st));
            failures++;
        }
    }
    /* The last error is words, never the key. */
    error.len = 0;
    EXPECT(sigil_srtp_last_error(rx, &error), SIGIL_STATUS_OK);
    if (error.len == 0) {
        fprintf(stderr, "FAIL: no last error after refusals\n");
        failures++;
    }
    /* Too small a text: BUFFER_TOO_SMALL, len says what is needed, only a NUL written. */
    char tiny[4] = "xyz";
    sigil_text small = {tiny, sizeof tiny, 0};
    EXPECT(sigil_srtp_last_error(rx, &small), SIGIL_STATUS_BUFFER_TOO_SMALL);
    if (small.len != error.len || tiny[0] != '\0' || tiny[1] != 'y') {
        fprintf(stderr, "FAIL: too small text: len %zu (wanted %zu)\n", small.len, error.len);
        failures++;
    }
    sigil_srtp_free(tx);
    sigil_srtp_free(rx);
    sigil_srtp_free(NULL);
}

static void sdp_edges(void) {
    sigil_negotiator *n = NULL;
    char buf[4096], sum[256];
    sigil_text out = {buf, sizeof buf, 0}, summary = {sum, sizeof sum, 0};
    EXPECT(sigil_negotiator_new(NULL, "standard", "tls", NULL, 0, NULL), N);
    EXPECT(sigil_negotiator_new(&n, NULL, "tls", NULL, 0, NULL), N);
    EXPECT(sigil_negotiator_new(&n, "standard", NULL, NULL, 0, NULL), N);
    EXPECT(sigil_negotiator_new(&n, "sometimes", "tls", NULL, 0, &summary), SIGIL_STATUS_BAD_SETTINGS);
    EXPECT(sigil_negotiator_new(&n, "standard", "udp", NULL, 0, &summary), SIGIL_STATUS_BAD_SETTINGS);
    if (strstr(sum, "insecure") == NULL) {
        fprintf(stderr, "FAIL: standard over UDP: %s\n", sum);
        failures++;
    }
    EXPECT(sigil_negotiator_new(&n, "optional", "tls", "AES_CM_128_HMAC_SHA1_80 ROT13", 0, NULL),
           SIGIL_STATUS_BAD_SETTINGS);
    EXPECT(sigil_negotiator_new(&n, "standard", "tls", "AES_CM_128_HMAC_SHA1_32", 0, NULL), SIGIL_STATUS_OK);

    EXPECT(sigil_sdp_basic_audio(NULL, 4000, 1, &out), N);
    EXPECT(sigil_sdp_basic_audio("127.0.0.1", 4000, 1, NULL), N);
    EXPECT(sigil_sdp_basic_audio("not an address", 4000, 1, &out), SIGIL_STATUS_INVALID_ARGUMENT);
    EXPECT(sigil_sdp_basic_audio("127.0.0.1", 4000, 1, &out), SIGIL_STATUS_OK);
    char template_sdp[1024];
    memcpy(template_sdp, buf, out.len + 1);

    EXPECT(sigil_negotiator_create_offer(NULL, template_sdp, &out, NULL), N);
    EXPECT(sigil_negotiator_create_offer(n, NULL, &out, NULL), N);
    EXPECT(sigil_negotiator_create_offer(n, template_sdp, NULL, NULL), N);
    EXPECT(sigil_negotiator_create_offer(n, "this is not SDP", &out, NULL), SIGIL_STATUS_SDP_INVALID);
    EXPECT(sigil_negotiator_accept_answer(n, template_sdp, &summary), SIGIL_STATUS_NO_PENDING_OFFER);
    /* An offer that does not fit: only a NUL is written, never half a key. */
    char small[100];
    memset(small, 'x', sizeof small);
    sigil_text too_small = {small, sizeof small, 0};
    EXPECT(sigil_negotiator_create_offer(n, template_sdp, &too_small, NULL), SIGIL_STATUS_BUFFER_TOO_SMALL);
    if (small[0] != '\0' || small[1] != 'x' || too_small.len < 200) {
        fprintf(stderr, "FAIL: too small offer buffer (len %zu)\n", too_small.len);
        failures++;
    }
    EXPECT(sigil_negotiator_create_offer(n, template_sdp, &out, &summary), SIGIL_STATUS_OK);
    EXPECT(sigil_negotiator_accept_answer(NULL, buf, NULL), N);
    EXPECT(sigil_negotiator_accept_answer(n, NULL, NULL), N);
    /* The template answers nothing: Standard needs SRTP. */
    EXPECT(sigil_negotiator_accept_answer(n, template_sdp, &summary), SIGIL_STATUS_SRTP_REQUIRED);
    EXPECT(sigil_negotiator_answer_offer(NULL, buf, template_sdp, &out, NULL), N);
    EXPECT(sigil_negotiator_answer_offer(n, NULL, template_sdp, &out, NULL), N);
    EXPECT(sigil_negotiator_answer_offer(n, buf, NULL, &out, NULL), N);
    EXPECT(sigil_negotiator_answer_offer(n, buf, template_sdp, NULL, NULL), N);
    EXPECT(sigil_negotiator_answer_offer(n, template_sdp, template_sdp, &out, &summary), SIGIL_STATUS_OFFER_REJECTED);
    EXPECT(sigil_negotiator_resume_offer(NULL, buf, NULL), N);
    EXPECT(sigil_negotiator_resume_offer(n, NULL, NULL), N);
    EXPECT(sigil_negotiator_resume_offer(n, template_sdp, &summary), SIGIL_STATUS_NOT_OUR_OFFER);
    sigil_media_info info;
    EXPECT(sigil_negotiator_media(NULL, &info), N);
    EXPECT(sigil_negotiator_media(n, NULL), N);
    EXPECT(sigil_negotiator_media(n, &info), SIGIL_STATUS_OK);
    sigil_srtp *send = NULL;
    EXPECT(sigil_negotiator_srtp_sessions(NULL, &send, NULL), N);
    EXPECT(sigil_negotiator_srtp_sessions(n, &send, NULL), SIGIL_STATUS_NOT_FOUND);
    EXPECT(sigil_negotiator_rekey(NULL), N);
    EXPECT(sigil_negotiator_rekey(n), SIGIL_STATUS_OK);
    memset(buf, 0, sizeof buf);
    sigil_negotiator_free(n);
    sigil_negotiator_free(NULL);
}

static void trust_identity_config_edges(void) {
    sigil_trust_store *store = NULL;
    EXPECT(sigil_trust_store_load(NULL, NULL, NULL, 1, NULL), N);
    EXPECT(sigil_trust_store_load(&store, "/nonexistent/vendor.pem", NULL, 0, NULL), SIGIL_STATUS_IO);
    EXPECT(sigil_trust_store_load(&store, NULL, "/nonexistent/trusted", 1, NULL), SIGIL_STATUS_OK);
    size_t anchors = 0;
    EXPECT(sigil_trust_store_counts(NULL, &anchors, NULL), N);
    EXPECT(sigil_trust_store_counts(store, &anchors, NULL), SIGIL_STATUS_OK);
    if (anchors < 100) {
        fprintf(stderr, "FAIL: %zu built-in anchors\n", anchors);
        failures++;
    }
    EXPECT(sigil_trust_store_refused(NULL, 0, NULL, NULL), N);
    EXPECT(sigil_trust_store_refused(store, 0, NULL, NULL), SIGIL_STATUS_NOT_FOUND);
    sigil_verify_code code;
    sigil_der junk = {(const uint8_t *)"junk", 4};
    EXPECT(sigil_trust_verify(NULL, &junk, 1, "example.com", SIGIL_NAME_HOST, SIGIL_TIME_NOW, &code, NULL, NULL), N);
    EXPECT(sigil_trust_verify(store, NULL, 1, "example.com", SIGIL_NAME_HOST, SIGIL_TIME_NOW, &code, NULL, NULL), N);
    EXPECT(sigil_trust_verify(store, &junk, 1, NULL, SIGIL_NAME_HOST, SIGIL_TIME_NOW, &code, NULL, NULL), N);
    sigil_der null_data = {NULL, 10};
    EXPECT(sigil_trust_verify(store, &null_data, 1, "example.com", SIGIL_NAME_HOST, 0, &code, NULL, NULL), N);
    EXPECT(sigil_trust_verify(store, &junk, 1, "example.com", 9, SIGIL_TIME_NOW, &code, NULL, NULL),
           SIGIL_STATUS_INVALID_ARGUMENT);
    EXPECT(sigil_trust_verify(store, NULL, 0, "example.com", SIGIL_NAME_HOST, SIGIL_TIME_NOW, &code, NULL, NULL),
           SIGIL_STATUS_NOT_VERIFIED);
    if (code != SIGIL_VERIFY_CODE_EMPTY_CHAIN) {
        fprintf(stderr, "FAIL: empty chain gave code %d\n", (int)code);
        failures++;
    }
    char diag[512];
    sigil_text d = {diag, sizeof diag, 0};
    EXPECT(sigil_trust_verify(store, &junk, 1, "example.com", SIGIL_NAME_SIP_DOMAIN, SIGIL_TIME_NOW, &code, &d, NULL),
           SIGIL_STATUS_NOT_VERIFIED);
    if (code != SIGIL_VERIFY_CODE_MALFORMED || strstr(diag, "malformed") == NULL) {
        fprintf(stderr, "FAIL: junk certificate: %d %s\n", (int)code, diag);
        failures++;
    }
    sigil_trust_store_free(store);
    sigil_trust_store_free(NULL);

    sigil_identity *id = NULL;
    EXPECT(sigil_identity_load(NULL, "/nonexistent/factory", "/nonexistent/user", SIGIL_TIME_NOW), N);
    EXPECT(sigil_identity_load(&id, NULL, "/nonexistent/user", SIGIL_TIME_NOW), N);
    EXPECT(sigil_identity_load(&id, "/nonexistent/factory", NULL, SIGIL_TIME_NOW), N);
    EXPECT(sigil_identity_load(&id, "/nonexistent/factory", "/nonexistent/user", SIGIL_TIME_NOW), SIGIL_STATUS_OK);
    sigil_identity_kind kind;
    uint8_t mac[6];
    EXPECT(sigil_identity_in_use(NULL, &kind, NULL), N);
    EXPECT(sigil_identity_in_use(id, NULL, NULL), N);
    EXPECT(sigil_identity_in_use(id, &kind, NULL), SIGIL_STATUS_OK);
    if (kind != SIGIL_IDENTITY_KIND_NONE) {
        fprintf(stderr, "FAIL: an empty device has identity %d\n", (int)kind);
        failures++;
    }
    EXPECT(sigil_identity_mac(NULL, mac, NULL), N);
    EXPECT(sigil_identity_mac(id, NULL, NULL), N);
    EXPECT(sigil_identity_mac(id, mac, NULL), SIGIL_STATUS_NOT_FOUND);
    EXPECT(sigil_identity_report(NULL, &d), N);
    EXPECT(sigil_identity_report(id, NULL), N);
    sigil_identity_free(id);
    sigil_identity_free(NULL);

    sigil_config_report *report = NULL;
    const char *conf = "sip.u1.pwd = hunter2\nsip.transport = smoke-signals\n";
    EXPECT(sigil_config_check(NULL, (const uint8_t *)conf, strlen(conf), &report), N);
    EXPECT(sigil_config_check("c.conf", NULL, 5, &report), N);
    EXPECT(sigil_config_check("c.conf", (const uint8_t *)conf, strlen(conf), NULL), N);
    EXPECT(sigil_config_check("c.conf", NULL, 0, &report), SIGIL_STATUS_OK);
    sigil_config_report_free(report);
    EXPECT(sigil_config_check("c.conf", (const uint8_t *)conf, strlen(conf), &report), SIGIL_STATUS_CONFIG_INVALID);
    EXPECT(sigil_config_report_counts(NULL, NULL, NULL), N);
    EXPECT(sigil_config_report_error(NULL, 0, NULL, NULL, NULL, NULL), N);
    EXPECT(sigil_config_report_warning(NULL, 0, NULL, NULL), N);
    EXPECT(sigil_config_report_warning(report, 0, NULL, NULL), SIGIL_STATUS_NOT_FOUND);
    EXPECT(sigil_config_report_text(NULL, &d), N);
    EXPECT(sigil_config_report_text(report, NULL), N);
    EXPECT(sigil_config_report_text(report, &d), SIGIL_STATUS_OK);
    if (strstr(diag, "hunter2") != NULL || strstr(diag, "c.conf:2:") == NULL) {
        fprintf(stderr, "FAIL: config report: %s\n", diag);
        failures++;
    }
    sigil_config_report_free(report);
    sigil_config_report_free(NULL);
}

static void strerror_edges(void) {
    for (int status = -5; status < 60; status++) {
        const char *text = sigil_strerror(status);
        checks++;
        if (text == NULL || text[0] == '\0') {
            fprintf(stderr, "FAIL: strerror(%d)\n", status);
            failures++;
        }
    }
    if (strcmp(sigil_strerror(SIGIL_STATUS_OK), "success") != 0 ||
        strcmp(sigil_strerror(12345), "unknown status") != 0) {
        fprintf(stderr, "FAIL: strerror texts\n");
        failures++;
    }
    if (sigil_version() == NULL || sigil_version()[0] == '\0') {
        fprintf(stderr, "FAIL: no version\n");
        failures++;
    }
}

int main(void) {
    srtp_edges();
    sdp_edges();
    trust_identity_config_edges();
    strerror_edges();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
