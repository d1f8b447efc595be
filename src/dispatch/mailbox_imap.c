/* mailbox_imap: the bounce mailbox over IMAP with libcurl (issue 19):
 * UID SEARCH UNKEYWORD HeraldDone on the folder imap_url names, then for
 * each UID a fetch of the whole mail (URL ";UID=N") and, once its report
 * is durable, UID STORE +FLAGS (\Seen HeraldDone), so a mail is applied
 * once whoever else reads the folder. imaps:// is TLS from the start;
 * imap:// must upgrade with STARTTLS (a password never goes in clear). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    hd_buf_add(ud, p, size * n);
    return size * n;
}

/* One IMAP request: url, and a command instead of libcurl's own (or NULL);
 * what the server sends back goes to out. */
static int request(const struct hd_mailbox *mb, const char *url, const char *command,
                   struct hd_buf *out, struct hd_err *err)
{
    CURL *h = curl_easy_init();
    if (!h)
        return hd_err_set(err, HD_E_IO, "cannot start libcurl");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (mb->username)
        curl_easy_setopt(h, CURLOPT_USERNAME, mb->username);
    if (mb->password)
        curl_easy_setopt(h, CURLOPT_PASSWORD, mb->password);
    if (mb->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, mb->ca_file);
    if (command)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, command);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode c = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (c != CURLE_OK)
        return hd_err_set(err, HD_E_IO, "IMAP '%s': %s", url, curl_easy_strerror(c));
    return 0;
}

/* The UIDs of "* SEARCH 3 4 5" into *uids (the caller frees). */
static size_t search_uids(const char *text, long **uids)
{
    const char *s = text ? strstr(text, "* SEARCH") : NULL;
    size_t n = 0, cap = 0;
    *uids = NULL;
    for (s = s ? s + 8 : NULL; s && *s && *s != '\r' && *s != '\n';) {
        char *end;
        long u = strtol(s, &end, 10);
        if (end == s)
            break;
        if (n == cap)
            *uids = hd_xrealloc(*uids, (cap = cap ? 2 * cap : 64) * sizeof **uids);
        (*uids)[n++] = u;
        s = end;
    }
    return n;
}

int hd_mailbox_imap(struct hd_mailbox *mb, struct hd_err *err)
{
    struct hd_buf b;
    long *uids = NULL;
    hd_buf_init(&b);
    int rc = request(mb, mb->imap_url, "UID SEARCH UNKEYWORD HeraldDone", &b, err);
    size_t n = rc == 0 ? search_uids(b.data, &uids) : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char url[4200], name[64], cmd[96];
        snprintf(url, sizeof url, "%s;UID=%ld", mb->imap_url, uids[i]);
        snprintf(name, sizeof name, "UID %ld", uids[i]);
        hd_buf_release(&b);
        hd_buf_init(&b);
        bool done = false;
        if ((rc = request(mb, url, NULL, &b, err)) == 0)
            rc = hd_mailbox_one(mb, b.data ? b.data : "", b.len, name, &done, err);
        snprintf(cmd, sizeof cmd, "UID STORE %ld +FLAGS (\\Seen HeraldDone)", uids[i]);
        if (rc == 0 && done) {
            hd_buf_release(&b);
            hd_buf_init(&b);
            rc = request(mb, mb->imap_url, cmd, &b, err);
        }
        if (mb->progress)
            hd_progress_update(mb->progress, (uint64_t)mb->sum.read, (uint64_t)mb->sum.read);
    }
    free(uids);
    hd_buf_release(&b);
    return rc;
}
