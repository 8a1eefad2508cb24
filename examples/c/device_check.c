/*
 * The device side of Sigil's C API: which identity the device presents and
 * why, its MAC, and a configuration file checked before it is applied.
 *
 *   device_check FACTORY_DIR USER_DIR CONFIG_FILE
 *
 * Prints the identity in use with the reason, the MAC, the identity report,
 * then "config: OK ..." or every error (line, column, message, the line with
 * secrets masked) and warning. Exit 0 when the configuration is valid, 1
 * when it has errors, 2 on other failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigil.h"

static const char *kind_name(sigil_identity_kind kind) {
    switch (kind) {
    case SIGIL_IDENTITY_KIND_FACTORY: return "factory";
    case SIGIL_IDENTITY_KIND_OVERRIDE: return "override";
    case SIGIL_IDENTITY_KIND_NONE: return "none";
    }
    return "?";
}

/* Fills `text` with a heap buffer of the size the library asks for. */
static int grow(sigil_text *text) {
    free(text->ptr);
    text->cap = text->len + 1;
    text->ptr = malloc(text->cap);
    return text->ptr != NULL;
}

static int identity(const char *factory_dir, const char *user_dir) {
    sigil_identity *id = NULL;
    sigil_status st = sigil_identity_load(&id, factory_dir, user_dir, SIGIL_TIME_NOW);
    if (st != SIGIL_STATUS_OK) {
        printf("identity: %s\n", sigil_strerror(st));
        return 0;
    }
    sigil_identity_kind kind;
    char reason[1024];
    sigil_text r = {reason, sizeof reason, 0};
    if (sigil_identity_in_use(id, &kind, &r) == SIGIL_STATUS_OK)
        printf("identity in use: %s (%s)\n", kind_name(kind), reason);
    uint8_t mac[6];
    char mac_text[32];
    sigil_text m = {mac_text, sizeof mac_text, 0};
    st = sigil_identity_mac(id, mac, &m);
    if (st == SIGIL_STATUS_OK)
        printf("mac: %s (%02x%02x%02x%02x%02x%02x)\n", mac_text, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    else
        printf("mac: %s\n", sigil_strerror(st));
    /* The report has no fixed size: ask, then read. */
    sigil_text report = {NULL, 0, 0};
    if (sigil_identity_report(id, &report) == SIGIL_STATUS_BUFFER_TOO_SMALL && grow(&report) &&
        sigil_identity_report(id, &report) == SIGIL_STATUS_OK)
        printf("--- report\n%s---\n", report.ptr);
    free(report.ptr);
    sigil_identity_free(id);
    return 1;
}

static int config(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("config: cannot open %s\n", path);
        return 2;
    }
    static uint8_t bytes[1 << 16];
    size_t len = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    sigil_config_report *report = NULL;
    sigil_status st = sigil_config_check(path, bytes, len, &report);
    memset(bytes, 0, sizeof bytes); /* it held the SIP password */
    if (report == NULL) {
        printf("config: %s\n", sigil_strerror(st));
        return 2;
    }
    size_t errors = 0, warnings = 0;
    sigil_config_report_counts(report, &errors, &warnings);
    printf("config: %s, %zu error(s), %zu warning(s)\n", st == SIGIL_STATUS_OK ? "OK" : "INVALID", errors,
           warnings);
    for (size_t i = 0; i < errors; i++) {
        size_t line = 0, column = 0;
        char message[512], excerpt[512];
        sigil_text msg = {message, sizeof message, 0}, ex = {excerpt, sizeof excerpt, 0};
        if (sigil_config_report_error(report, i, &line, &column, &msg, &ex) == SIGIL_STATUS_OK)
            printf("error line %zu col %zu: %s | %s\n", line, column, message, excerpt);
    }
    for (size_t i = 0; i < warnings; i++) {
        size_t line = 0;
        char message[512];
        sigil_text msg = {message, sizeof message, 0};
        if (sigil_config_report_warning(report, i, &line, &msg) == SIGIL_STATUS_OK)
            printf("warning line %zu: %s\n", line, message);
    }
    sigil_text all = {NULL, 0, 0};
    if (sigil_config_report_text(report, &all) == SIGIL_STATUS_BUFFER_TOO_SMALL && grow(&all) &&
        sigil_config_report_text(report, &all) == SIGIL_STATUS_OK)
        printf("--- as text\n%s---\n", all.ptr);
    free(all.ptr);
    /* Past the end. */
    if (sigil_config_report_error(report, errors, NULL, NULL, NULL, NULL) != SIGIL_STATUS_NOT_FOUND) {
        printf("error past the end was found\n");
        st = SIGIL_STATUS_PANIC;
    }
    sigil_config_report_free(report);
    return st == SIGIL_STATUS_OK ? 0 : st == SIGIL_STATUS_CONFIG_INVALID ? 1 : 2;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s FACTORY_DIR USER_DIR CONFIG_FILE\n", argv[0]);
        return 2;
    }
    if (!identity(argv[1], argv[2])) return 2;
    return config(argv[3]);
}
