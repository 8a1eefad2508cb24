/*
 * A trust check through Sigil's C API: load the layered trust store from the
 * device folders, read a server chain from a PEM file (as DER, the way a TLS
 * stack hands it over) and print the diagnosis and the installer's fix line.
 *
 *   trust_check CHAIN.pem NAME host|sip|sip-strict TRUSTED_DIR|- VENDOR.pem|- [UNIX_TIME]
 *
 * Prints the store (anchors, refused files with reasons), then
 * "verified: ..." (exit 0) or "not verified: ...", "code: ..." and
 * "fix: ..." (exit 1). Exit 2 on usage or load errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil.h"

#define MAX_CERTS 16

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes the base64 text between `from` and `to` (whitespace skipped) into
 * a new buffer; returns its length or 0 on error. */
static size_t b64_decode(const char *from, const char *to, uint8_t **out) {
    uint8_t *buf = malloc((size_t)(to - from) / 4 * 3 + 3);
    if (buf == NULL) return 0;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = from; p < to; p++) {
        if (*p == '=' || *p == '\r' || *p == '\n' || *p == ' ' || *p == '\t') continue;
        int v = b64_value(*p);
        if (v < 0) {
            free(buf);
            return 0;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    return n;
}

/* Reads the CERTIFICATE blocks of a PEM file into DER certificates. */
static size_t read_pem_chain(const char *path, sigil_der *chain) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    static char text[1 << 17];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    size_t count = 0;
    const char *at = text;
    while (count < MAX_CERTS && (at = strstr(at, begin)) != NULL) {
        const char *body = at + sizeof begin - 1;
        const char *stop = strstr(body, end);
        if (stop == NULL) break;
        uint8_t *der = NULL;
        size_t der_len = b64_decode(body, stop, &der);
        if (der_len == 0) break;
        chain[count].data = der;
        chain[count].len = der_len;
        count++;
        at = stop + sizeof end - 1;
    }
    return count;
}

static const char *code_name(sigil_verify_code code) {
    switch (code) {
    case SIGIL_VERIFY_CODE_VERIFIED: return "VERIFIED";
    case SIGIL_VERIFY_CODE_EMPTY_CHAIN: return "EMPTY_CHAIN";
    case SIGIL_VERIFY_CODE_TOO_MANY_CERTIFICATES: return "TOO_MANY_CERTIFICATES";
    case SIGIL_VERIFY_CODE_MALFORMED: return "MALFORMED";
    case SIGIL_VERIFY_CODE_UNKNOWN_ISSUER: return "UNKNOWN_ISSUER";
    case SIGIL_VERIFY_CODE_ISSUER_NOT_CA: return "ISSUER_NOT_CA";
    case SIGIL_VERIFY_CODE_EXPIRED: return "EXPIRED";
    case SIGIL_VERIFY_CODE_NOT_YET_VALID: return "NOT_YET_VALID";
    case SIGIL_VERIFY_CODE_NAME_MISMATCH: return "NAME_MISMATCH";
    case SIGIL_VERIFY_CODE_BAD_SIGNATURE: return "BAD_SIGNATURE";
    case SIGIL_VERIFY_CODE_UNSUPPORTED_ALGORITHM: return "UNSUPPORTED_ALGORITHM";
    case SIGIL_VERIFY_CODE_WRONG_USAGE: return "WRONG_USAGE";
    case SIGIL_VERIFY_CODE_CA_USED_AS_END_ENTITY: return "CA_USED_AS_END_ENTITY";
    case SIGIL_VERIFY_CODE_NAME_CONSTRAINTS: return "NAME_CONSTRAINTS";
    case SIGIL_VERIFY_CODE_UNSUPPORTED_CRITICAL_EXTENSION: return "UNSUPPORTED_CRITICAL_EXTENSION";
    case SIGIL_VERIFY_CODE_OTHER: return "OTHER";
    }
    return "?";
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s CHAIN.pem NAME host|sip|sip-strict TRUSTED_DIR|- VENDOR.pem|- [UNIX_TIME]\n",
                argv[0]);
        return 2;
    }
    int kind;
    if (strcmp(argv[3], "host") == 0) kind = SIGIL_NAME_HOST;
    else if (strcmp(argv[3], "sip") == 0) kind = SIGIL_NAME_SIP_DOMAIN;
    else if (strcmp(argv[3], "sip-strict") == 0) kind = SIGIL_NAME_SIP_DOMAIN_STRICT;
    else {
        fprintf(stderr, "name kind must be host, sip or sip-strict\n");
        return 2;
    }
    const char *trusted = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
    const char *vendor = strcmp(argv[5], "-") == 0 ? NULL : argv[5];
    int64_t at = argc == 7 ? (int64_t)strtoll(argv[6], NULL, 10) : SIGIL_TIME_NOW;

    sigil_trust_store *store = NULL;
    char why[1024];
    sigil_text error = {why, sizeof why, 0};
    /* Built-in roots off: the test PKI is all this device trusts. */
    sigil_status st = sigil_trust_store_load(&store, vendor, trusted, 0, &error);
    if (st != SIGIL_STATUS_OK) {
        printf("cannot load the trust store: %s: %s\n", sigil_strerror(st), why);
        return 2;
    }
    size_t anchors = 0, refused = 0;
    sigil_trust_store_counts(store, &anchors, &refused);
    printf("store: %zu anchors, %zu refused files\n", anchors, refused);
    for (size_t i = 0; i < refused; i++) {
        char path[512], reason[512];
        sigil_text p = {path, sizeof path, 0}, r = {reason, sizeof reason, 0};
        if (sigil_trust_store_refused(store, i, &p, &r) == SIGIL_STATUS_OK) printf("refused %s: %s\n", path, reason);
    }

    sigil_der chain[MAX_CERTS];
    size_t count = read_pem_chain(argv[1], chain);
    printf("chain: %zu certificate(s) from %s\n", count, argv[1]);

    /* First ask for the sizes, then read the texts into buffers that fit. */
    sigil_verify_code code = SIGIL_VERIFY_CODE_OTHER;
    sigil_text diagnosis = {NULL, 0, 0}, fix = {NULL, 0, 0};
    st = sigil_trust_verify(store, chain, count, argv[2], kind, at, &code, &diagnosis, &fix);
    if (st == SIGIL_STATUS_BUFFER_TOO_SMALL) {
        diagnosis.cap = diagnosis.len + 1;
        diagnosis.ptr = malloc(diagnosis.cap);
        fix.cap = fix.len + 1;
        fix.ptr = malloc(fix.cap);
        if (diagnosis.ptr == NULL || fix.ptr == NULL) return 2;
        st = sigil_trust_verify(store, chain, count, argv[2], kind, at, &code, &diagnosis, &fix);
    }
    int exit_code = 2;
    if (st == SIGIL_STATUS_OK || st == SIGIL_STATUS_NOT_VERIFIED) {
        printf("%s\n", diagnosis.ptr);
        printf("code: %s\n", code_name(code));
        if (fix.len > 0) printf("fix: %s\n", fix.ptr);
        exit_code = st == SIGIL_STATUS_OK ? 0 : 1;
    } else {
        printf("verify: %s\n", sigil_strerror(st));
    }
    free(diagnosis.ptr);
    free(fix.ptr);
    for (size_t i = 0; i < count; i++) free((void *)chain[i].data);
    sigil_trust_store_free(store);
    return exit_code;
}
