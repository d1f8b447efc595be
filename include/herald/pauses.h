/* pauses: provider pauses shared at once between every process that uses a
 * database, through a small file next to it (`<database>.pauses`) mapped
 * into each process. A throttled answer closes its provider's slot the
 * moment it is read, before (and apart from) any database write, so a pause
 * holds across processes even while another one holds SQLite's write lock;
 * reading a slot is a memory read. */
#ifndef HERALD_PAUSES_H
#define HERALD_PAUSES_H

#include <stdint.h>

#include "herald/err.h"

struct hd_pauses;
/* One provider's slot in the mapping: until when (real time, ms since the
 * epoch) nothing may go to it. */
struct hd_pause_slot;

/* Opens (creating it with the database file's permissions when needed)
 * the pause file of the database at db_path and maps it. The caller frees
 * *out with hd_pauses_free; the file stays (a pause in the past is no
 * pause, so a file a crash left is harmless). */
int hd_pauses_open(const char *db_path, struct hd_pauses **out, struct hd_err *err);
void hd_pauses_free(struct hd_pauses *p);
/* The provider's slot, taken the first time any process asks for the name;
 * NULL when the file's slots are all taken or the name is too long (the
 * pause is then shared through the database only). Owned by p. */
struct hd_pause_slot *hd_pauses_slot(struct hd_pauses *p, const char *provider);
/* Until when the slot is paused (real ms; 0: never paused). A relaxed
 * atomic read: no lock, no system call. */
int64_t hd_pause_slot_until(const struct hd_pause_slot *s);
/* Pauses the slot until until_ms (real ms) unless a later pause holds. */
void hd_pause_slot_raise(struct hd_pause_slot *s, int64_t until_ms);

#endif
