/* config_bounces: the [bounces] section (issue 19), the bounce mailbox that
 * `herald bounces fetch` reads and `herald run` polls: a local Maildir
 * (maildir) or an IMAPS folder (imap_url, username, password_env or
 * password_file like every secret, ca_file), and poll, the interval of
 * herald run (0: never). The password is read as the file is, and wiped
 * when the configuration is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "herald/buf.h"
#include "herald/units.h"

static void set(char **dst, const char *v)
{
    free(*dst);
    *dst = hd_xstrdup(v);
}

int hd_cfg_imap_url_check(const char *v, char *why, size_t n)
{
    size_t scheme = strncmp(v, "imaps://", 8) == 0 ? 8 : strncmp(v, "imap://", 7) == 0 ? 7 : 0;
    bool printable = true;
    for (const char *c = v; *c; c++)
        printable &= (unsigned char)*c > ' ' && (unsigned char)*c < 0x7f;
    if (!scheme || !printable) {
        snprintf(why, n, "'%s' is not an imaps:// URL (imaps://host/INBOX)", printable ? v : "");
        return -1;
    }
    /* a password there would be in every error and log line that names the
     * folder (a review found one): it has keys of its own */
    if (memchr(v + scheme, '@', strcspn(v + scheme, "/?#"))) {
        snprintf(why, n,
                 "give the user as username and the password as password_file or password_env, "
                 "not in the URL");
        return -1;
    }
    return 0;
}

int hd_cfg_bounces_key(struct hd_bounces_cfg *b, const char *key, const char *v, char *why,
                       size_t n)
{
    if (strcmp(key, "maildir") == 0)
        set(&b->maildir, v);
    else if (strcmp(key, "imap_url") == 0) {
        char reason[300];
        if (hd_cfg_imap_url_check(v, reason, sizeof reason) < 0) {
            snprintf(why, n, "imap_url: %s", reason);
            return -1;
        }
        set(&b->imap_url, v);
    } else if (strcmp(key, "username") == 0)
        set(&b->username, v);
    else if (strcmp(key, "ca_file") == 0)
        set(&b->ca_file, v);
    else if (strcmp(key, "password_env") == 0 || strcmp(key, "password_file") == 0) {
        char *value = NULL, reason[300];
        size_t len = 0;
        if (hd_cfg_secret_read(v, key[9] == 'e', &value, &len, reason, sizeof reason) < 0) {
            snprintf(why, n, "%s: %s", key, reason);
            return -1;
        }
        hd_cfg_bounces_release_password(b);
        b->password = value;
    } else if (strcmp(key, "poll") == 0) {
        if (hd_units_duration(v, &b->poll, NULL) < 0 || b->poll < 0) {
            snprintf(why, n, "poll: '%s' is not a duration (5m)", v);
            return -1;
        }
    } else {
        snprintf(why, n,
                 "unknown key '%s' in [bounces] (known: maildir, imap_url, username, "
                 "password_env, password_file, ca_file, poll)",
                 key);
        return -1;
    }
    return 0;
}

void hd_cfg_bounces_release_password(struct hd_bounces_cfg *b)
{
    if (b->password)
        hd_wipe(b->password, strlen(b->password));
    free(b->password);
    b->password = NULL;
}

void hd_cfg_bounces_release(struct hd_bounces_cfg *b)
{
    hd_cfg_bounces_release_password(b);
    free(b->maildir);
    free(b->imap_url);
    free(b->username);
    free(b->ca_file);
    memset(b, 0, sizeof *b);
}
