/* markdown: the Markdown subset of an inbox message's body (issue 20),
 * rendered to HTML that is safe to put into a page: paragraphs (blank
 * lines between), **bold**, *emphasis*, [links](https://...) with http or
 * https URLs only, and lists ("- " or "* " items, "1. " numbered). Every
 * other byte is text: <, >, &, " and ' are escaped wherever they stand, a
 * link with any other scheme is its text, and a backslash makes the next
 * mark literal. The output has no element or attribute but those above
 * (a link carries rel="noopener noreferrer"). */
#ifndef HERALD_MARKDOWN_H
#define HERALD_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/buf.h"

/* Appends the HTML of the n bytes of Markdown at md to out. */
void hd_md_render(const char *md, size_t n, struct hd_buf *out);
/* Whether the n bytes at url are a link the subset keeps: http:// or
 * https://, then at least a host, printable ASCII without space, quotes,
 * angle brackets, backslash or backtick. */
bool hd_md_url_ok(const char *url, size_t n);

#endif
