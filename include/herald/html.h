/* html: the plain-text alternative of an HTML email, for templates that give
 * only email.html. Block elements become line breaks, links become
 * "text (url)", <head>, <style> and <script> are dropped, entities are
 * decoded, and runs of blank space are collapsed. */
#ifndef HERALD_HTML_H
#define HERALD_HTML_H

#include <stddef.h>

#include "herald/buf.h"

/* Appends the text form of html (n bytes) to out. */
void hd_html_to_text(const char *html, size_t n, struct hd_buf *out);

#endif
