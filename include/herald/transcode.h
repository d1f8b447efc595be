/* transcode: a text file as UTF-8, whatever encoding it was written in.
 * Files from other systems (a CRM's export in GBK, Big5, Shift_JIS or
 * Latin-1) go through ICU's converters before any parser sees them, in
 * blocks, so memory stays flat however large the file is. A file that
 * should already be UTF-8 is checked the same way, once, before anything is
 * read from it: a bad byte refuses the whole file with the encoding ICU's
 * detector guesses, instead of one complaint per row. */
#ifndef HERALD_TRANSCODE_H
#define HERALD_TRANSCODE_H

#include <stdio.h>

#include "herald/err.h"

/* Reads f (borrowed, at its start) as encoding (an ICU converter name or
 * alias: "gbk", "gb18030", "big5", "shift_jis", "latin1"; NULL or "utf-8"
 * for UTF-8) and sets *out to a stream of its text in UTF-8: f itself,
 * rewound, when f is a regular file already in UTF-8, else a temporary file
 * the caller closes (when *out != f). name is used in messages; hint is how
 * the caller's user names the encoding ("--encoding"), NULL for plain
 * words. Errors: HD_E_USAGE for an encoding ICU does not know, HD_E_PARSE
 * ("contacts.csv:2: the file is not UTF-8 (it looks like GB18030); add
 * --encoding gb18030") for bytes the encoding does not have, HD_E_IO. */
int hd_transcode_open(FILE *f, const char *name, const char *encoding, const char *hint, FILE **out,
                      struct hd_err *err);

#endif
