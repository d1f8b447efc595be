#ifndef HERALD_JSON_H
#define HERALD_JSON_H

#include <jansson.h>
#include <stddef.h>

/* A JSON object from text, exactly as json_loadb(s, n, 0, NULL) reads it
 * (NULL when that would fail), but fast for the flat objects read for every
 * message: contact attributes and push data. Members whose values are
 * strings without escapes, numbers, true, false or null are read here; any
 * other text (escapes, nested values, errors) goes to jansson. Reals are
 * read with strtod in the C locale, which herald never changes. */
json_t *hd_json_object_loads(const char *s, size_t n);

/* RFC 6901 JSON pointers (jptr.c). Whether ptr is one: "" or "/token"...,
 * where '~' is only in "~0" ('~') and "~1" ('/'); -1 with the reason in
 * why (n bytes) when it is not. */
int hd_json_pointer_check(const char *ptr, char *why, size_t n);
/* The value ptr names in doc (borrowed from doc), or NULL: no such member
 * or element, an index that is not one ("-", "01", "+1"), or a pointer
 * that is not one. */
json_t *hd_json_pointer(const json_t *doc, const char *ptr);

#endif
