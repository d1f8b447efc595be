/* banned: the C library calls CONVENTIONS.md bans, made compile errors (git's
 * idea). The Makefile puts this header in front of every file of src/ with
 * the compiler's -include, so a banned call anywhere fails the build with a
 * name that says why: sorry_strcpy_is_a_banned_function.
 *
 * Why each is banned: strcpy, strcat, sprintf and vsprintf write without a
 * bound (use hd_buf, snprintf or hd_strcpy_cut); strncpy and strncat do not
 * always terminate or cut where one expects; strtok keeps hidden state between
 * calls; gmtime, localtime, ctime and asctime return a shared static buffer
 * (use the _r forms, or core/time.c).
 *
 * The headers that declare them come first, so that their declarations are
 * seen before the macros exist; a file that includes them again later gets
 * nothing new from them. */
#ifndef HERALD_BANNED_H
#define HERALD_BANNED_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#define HD_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) HD_BANNED(strcpy)
#undef strcat
#define strcat(x, y) HD_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) HD_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) HD_BANNED(strncat)
#undef strtok
#define strtok(x, y) HD_BANNED(strtok)
#undef sprintf
#define sprintf(...) HD_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) HD_BANNED(vsprintf)
#undef gmtime
#define gmtime(t) HD_BANNED(gmtime)
#undef localtime
#define localtime(t) HD_BANNED(localtime)
#undef ctime
#define ctime(t) HD_BANNED(ctime)
#undef asctime
#define asctime(t) HD_BANNED(asctime)

#endif
