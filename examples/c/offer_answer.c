/*
 * SDES offer/answer through Sigil's C API, shaped like `sigil sdp` so the
 * two can talk over pipes (crates/sigil-ffi/tests/c_programs.rs runs the
 * policy matrix against the `sigil` command):
 *
 *   offer_answer offer POLICY              our offer on stdout
 *   offer_answer answer POLICY             the offer on stdin, our answer on stdout
 *                                          (or "reject 488: REASON", exit 2)
 *   offer_answer accept POLICY OFFER_FILE  the answer on stdin to our offer in
 *                                          OFFER_FILE; prints "srtp SUITE tag N" or
 *                                          "plain: REASON" (exit 0), or
 *                                          "srtp required: REASON" (exit 2)
 *   offer_answer self POLICY POLICY        two negotiators in this process, then
 *                                          media both ways through the SRTP
 *                                          sessions the negotiation made
 *
 * POLICY is disabled, optional or standard; the transport is TLS. A summary
 * of what was agreed goes to stderr. Exit 1 on any other error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil.h"

#define SDP_CAP 8192

static sigil_negotiator *negotiator(const char *policy) {
    sigil_negotiator *n = NULL;
    char why[512];
    sigil_text error = {why, sizeof why, 0};
    sigil_status st = sigil_negotiator_new(&n, policy, "tls", NULL, 0, &error);
    if (st != SIGIL_STATUS_OK) {
        fprintf(stderr, "negotiator %s: %s: %s\n", policy, sigil_strerror(st), why);
        return NULL;
    }
    return n;
}

/* Reads all of `in` into a NUL-terminated heap string (NULL on error). */
static char *slurp(FILE *in) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len - 1, in);
        len += got;
        if (len + 1 < cap) break;
        if (cap > 1 << 20) break;
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            return NULL;
        }
        buf = bigger;
        cap *= 2;
    }
    buf[len] = '\0';
    return buf;
}

/* Wipes a buffer that held keys before freeing it. */
static void wipe_free(char *buf) {
    if (buf == NULL) return;
    volatile char *p = buf;
    while (*p) *p++ = 0;
    free(buf);
}

static int offer(const char *policy) {
    sigil_negotiator *n = negotiator(policy);
    if (n == NULL) return 1;
    char template_sdp[1024], sdp[SDP_CAP], summary[512];
    sigil_text t = {template_sdp, sizeof template_sdp, 0};
    sigil_text out = {sdp, sizeof sdp, 0}, sum = {summary, sizeof summary, 0};
    sigil_status st = sigil_sdp_basic_audio("127.0.0.1", 4000, 1, &t);
    if (st == SIGIL_STATUS_OK) st = sigil_negotiator_create_offer(n, template_sdp, &out, &sum);
    if (st != SIGIL_STATUS_OK) {
        fprintf(stderr, "offer: %s\n", sigil_strerror(st));
        sigil_negotiator_free(n);
        return 1;
    }
    fputs(sdp, stdout);
    fprintf(stderr, "%s\n", summary);
    memset(sdp, 0, sizeof sdp);
    sigil_negotiator_free(n);
    return 0;
}

static int answer(const char *policy) {
    sigil_negotiator *n = negotiator(policy);
    char *offer_sdp = slurp(stdin);
    int code = 1;
    if (n == NULL || offer_sdp == NULL) goto out;
    char template_sdp[1024], sdp[SDP_CAP], summary[512];
    sigil_text t = {template_sdp, sizeof template_sdp, 0};
    sigil_text out = {sdp, sizeof sdp, 0}, sum = {summary, sizeof summary, 0};
    sigil_status st = sigil_sdp_basic_audio("127.0.0.1", 4002, 2, &t);
    if (st == SIGIL_STATUS_OK) st = sigil_negotiator_answer_offer(n, offer_sdp, template_sdp, &out, &sum);
    if (st == SIGIL_STATUS_OFFER_REJECTED) {
        printf("reject %s\n", summary);
        code = 2;
    } else if (st != SIGIL_STATUS_OK) {
        fprintf(stderr, "answer: %s\n", sigil_strerror(st));
    } else {
        fputs(sdp, stdout);
        fprintf(stderr, "%s\n", summary);
        memset(sdp, 0, sizeof sdp);
        code = 0;
    }
out:
    wipe_free(offer_sdp);
    sigil_negotiator_free(n);
    return code;
}

/* Protects one RTP packet with `send` to show the session works. */
static int send_one(sigil_srtp *send) {
    uint8_t p[64 + SIGIL_SRTP_MAX_TRAILER_LEN] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
    size_t len = 64;
    return sigil_srtp_protect_rtp(send, p, &len, sizeof p) == SIGIL_STATUS_OK && len > 64;
}

static int accept_answer(const char *policy, const char *offer_file) {
    sigil_negotiator *n = negotiator(policy);
    FILE *f = fopen(offer_file, "r");
    char *offer_sdp = f ? slurp(f) : NULL;
    char *answer_sdp = slurp(stdin);
    int code = 1;
    if (f != NULL) fclose(f);
    if (n == NULL || offer_sdp == NULL || answer_sdp == NULL) goto out;
    char summary[512];
    sigil_text sum = {summary, sizeof summary, 0};
    sigil_status st = sigil_negotiator_resume_offer(n, offer_sdp, &sum);
    if (st != SIGIL_STATUS_OK) {
        fprintf(stderr, "our offer cannot be resumed: %s: %s\n", sigil_strerror(st), summary);
        goto out;
    }
    st = sigil_negotiator_accept_answer(n, answer_sdp, &sum);
    if (st == SIGIL_STATUS_SRTP_REQUIRED) {
        /* "SRTP required: DETAIL" */
        const char *detail = strchr(summary, ':');
        printf("srtp required:%s\n", detail ? detail + 1 : summary);
        code = 2;
        goto out;
    }
    if (st != SIGIL_STATUS_OK) {
        fprintf(stderr, "accept: %s: %s\n", sigil_strerror(st), summary);
        goto out;
    }
    sigil_media_info info;
    st = sigil_negotiator_media(n, &info);
    if (st != SIGIL_STATUS_OK) goto out;
    if (info.mode == SIGIL_MEDIA_MODE_SRTP) {
        sigil_srtp *send = NULL, *receive = NULL;
        st = sigil_negotiator_srtp_sessions(n, &send, &receive);
        int works = st == SIGIL_STATUS_OK && send_one(send);
        sigil_srtp_free(send);
        sigil_srtp_free(receive);
        if (!works) {
            fprintf(stderr, "the SRTP sessions of the agreement do not work: %s\n", sigil_strerror(st));
            goto out;
        }
        printf("srtp %s tag %u\n", info.suite, info.tag);
    } else {
        /* "plain RTP: REASON" or "unencrypted: REASON" */
        const char *reason = strchr(summary, ':');
        printf("plain:%s\n", reason ? reason + 1 : summary);
    }
    code = 0;
out:
    wipe_free(offer_sdp);
    wipe_free(answer_sdp);
    sigil_negotiator_free(n);
    return code;
}

/* Alice (first policy) offers, Bob answers, Alice accepts; with SRTP, 50
 * packets each way through the sessions the negotiation made, one tampered
 * and one replayed packet refused. */
static int self_test(const char *alice_policy, const char *bob_policy) {
    sigil_negotiator *alice = negotiator(alice_policy), *bob = negotiator(bob_policy);
    sigil_srtp *a_send = NULL, *a_recv = NULL, *b_send = NULL, *b_recv = NULL;
    int code = 1;
    if (alice == NULL || bob == NULL) goto out;
    char t1[1024], t2[1024], offer_sdp[SDP_CAP], answer_sdp[SDP_CAP], s1[512], s2[512], s3[512];
    sigil_text tt1 = {t1, sizeof t1, 0}, tt2 = {t2, sizeof t2, 0};
    sigil_text o = {offer_sdp, sizeof offer_sdp, 0}, a = {answer_sdp, sizeof answer_sdp, 0};
    sigil_text m1 = {s1, sizeof s1, 0}, m2 = {s2, sizeof s2, 0}, m3 = {s3, sizeof s3, 0};
    sigil_sdp_basic_audio("192.0.2.1", 4000, 1, &tt1);
    sigil_sdp_basic_audio("192.0.2.2", 5000, 2, &tt2);
    sigil_status st = sigil_negotiator_create_offer(alice, t1, &o, &m1);
    if (st != SIGIL_STATUS_OK) goto out;
    st = sigil_negotiator_answer_offer(bob, offer_sdp, t2, &a, &m2);
    if (st == SIGIL_STATUS_OFFER_REJECTED) {
        printf("reject %s\n", s2);
        code = 2;
        goto out;
    }
    if (st != SIGIL_STATUS_OK) goto out;
    st = sigil_negotiator_accept_answer(alice, answer_sdp, &m3);
    if (st != SIGIL_STATUS_OK) {
        printf("%s\n", s3);
        code = 2;
        goto out;
    }
    sigil_media_info info, bob_info;
    if (sigil_negotiator_media(alice, &info) != SIGIL_STATUS_OK ||
        sigil_negotiator_media(bob, &bob_info) != SIGIL_STATUS_OK)
        goto out;
    if (info.mode != bob_info.mode || (info.mode == SIGIL_MEDIA_MODE_SRTP && strcmp(s2, s3) != 0)) {
        fprintf(stderr, "the two sides disagree: answerer \"%s\", offerer \"%s\"\n", s2, s3);
        goto out;
    }
    if (info.mode != SIGIL_MEDIA_MODE_SRTP) {
        printf("plain (offerer: %s; answerer: %s)\n", s3, s2);
        code = 0;
        goto out;
    }
    if (sigil_negotiator_srtp_sessions(alice, &a_send, &a_recv) != SIGIL_STATUS_OK ||
        sigil_negotiator_srtp_sessions(bob, &b_send, &b_recv) != SIGIL_STATUS_OK) {
        fprintf(stderr, "no SRTP sessions\n");
        goto out;
    }
    unsigned delivered = 0;
    for (unsigned i = 0; i < 100; i++) {
        sigil_srtp *tx = i % 2 ? b_send : a_send, *rx = i % 2 ? a_recv : b_recv;
        uint8_t plain[200], p[200 + SIGIL_SRTP_MAX_TRAILER_LEN];
        memset(plain, 0, 12);
        plain[0] = 0x80;
        plain[2] = (uint8_t)(i >> 8);
        plain[3] = (uint8_t)i;
        plain[11] = i % 2 ? 0xb0 : 0xa0; /* SSRC */
        for (int k = 12; k < 200; k++) plain[k] = (uint8_t)(k ^ i);
        memcpy(p, plain, 200);
        size_t len = 200;
        if (sigil_srtp_protect_rtp(tx, p, &len, sizeof p) != SIGIL_STATUS_OK) continue;
        if (i == 10) {
            p[40] ^= 1; /* tampered: refused, then the genuine packet goes through */
            size_t bad = len;
            if (sigil_srtp_unprotect_rtp(rx, p, &bad) != SIGIL_STATUS_AUTH_FAIL) goto media_fail;
            p[40] ^= 1;
        }
        uint8_t copy[sizeof p];
        memcpy(copy, p, len);
        size_t copy_len = len;
        if (sigil_srtp_unprotect_rtp(rx, p, &len) == SIGIL_STATUS_OK && len == 200 && memcmp(p, plain, 200) == 0)
            delivered++;
        if (i == 20 && sigil_srtp_unprotect_rtp(rx, copy, &copy_len) != SIGIL_STATUS_REPLAY_FAIL) goto media_fail;
    }
    if (delivered != 100) goto media_fail;
    printf("%s; 100 packets both ways, tampered and replayed ones refused\n", s3);
    code = 0;
    goto out;
media_fail:
    fprintf(stderr, "media through the negotiated SRTP sessions failed\n");
out:
    memset(offer_sdp, 0, sizeof offer_sdp);
    memset(answer_sdp, 0, sizeof answer_sdp);
    sigil_srtp_free(a_send);
    sigil_srtp_free(a_recv);
    sigil_srtp_free(b_send);
    sigil_srtp_free(b_recv);
    sigil_negotiator_free(alice);
    sigil_negotiator_free(bob);
    return code;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "offer") == 0) return offer(argv[2]);
    if (argc == 3 && strcmp(argv[1], "answer") == 0) return answer(argv[2]);
    if (argc == 4 && strcmp(argv[1], "accept") == 0) return accept_answer(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "self") == 0) return self_test(argv[2], argv[3]);
    fprintf(stderr, "usage: %s offer|answer POLICY | accept POLICY OFFER_FILE | self POLICY POLICY\n", argv[0]);
    return 1;
}
