/* fuzz_config: libFuzzer target for the INI reader and the schema checks of
 * hd_config_parse. The input is a configuration file's text; it must parse
 * or fail with HD_E_CONFIG and a message that starts with the file's name.
 * A configuration that parses and holds no secret must survive a round
 * trip: hd_config_dump's text parses again and dumps to the same text.
 * Inputs with a key that names a secret file (KEY_file, any key ending in
 * _file but ca_file) are skipped, so that the fuzzer does not read the
 * machine's files (/dev/zero would never end). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/config.h"

/* Whether a line's key (the text before '=', blanks trimmed) ends in
 * "_file" and is not "ca_file", which is only a path kept for later. */
static bool names_file(const char *text)
{
    for (const char *l = text; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *eq = strchr(l, '='), *nl = strchr(l, '\n');
        if (!eq || (nl && nl < eq))
            continue;
        const char *k = eq;
        while (k > l && (k[-1] == ' ' || k[-1] == '\t'))
            k--;
        if (k - l >= 5 && memcmp(k - 5, "_file", 5) == 0 &&
            !(k - l >= 7 && memcmp(k - 7, "ca_file", 7) == 0))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_secrets(const struct hd_config *cfg)
{
    for (size_t i = 0; i < cfg->nproviders; i++)
        if (cfg->providers[i].nsecrets)
            return true;
    return false;
}

static void round_trip(const struct hd_config *cfg)
{
    struct hd_buf a, b;
    struct hd_config *again = NULL;
    struct hd_err err;
    hd_buf_init(&a);
    hd_buf_init(&b);
    hd_config_dump(cfg, &a);
    if (hd_config_parse(a.data, "dump.conf", &again, &err) < 0) {
        fprintf(stderr, "fuzz_config: the dump does not parse: %s\n%s", err.msg, a.data);
        abort();
    }
    hd_config_dump(again, &b);
    if (strcmp(a.data, b.data) != 0) {
        fprintf(stderr, "fuzz_config: the dump changes:\n%s---\n%s", a.data, b.data);
        abort();
    }
    hd_config_free(again);
    hd_buf_release(&a);
    hd_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (names_file(text)) {
        free(text);
        return 0;
    }
    struct hd_config *cfg = NULL;
    struct hd_err err;
    if (hd_config_parse(text, "fuzz.conf", &cfg, &err) < 0) {
        if (err.code != HD_E_CONFIG || strncmp(err.msg, "fuzz.conf:", 10) != 0)
            abort(); /* every error names the file and the line */
    } else {
        if (!has_secrets(cfg))
            round_trip(cfg);
        hd_config_free(cfg);
    }
    free(text);
    return 0;
}
