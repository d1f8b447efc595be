/* pauses: the shared pause file. `<database>.pauses` holds a header and 64
 * fixed slots of 64 bytes, each a provider's name and an atomic 64-bit
 * "paused until" in real time (milliseconds since the epoch: every process
 * on the machine agrees on it, and after a reboot or a crash a pause left
 * behind is simply in the past). Every dispatcher maps the file
 * MAP_SHARED. A slot's name is written once, by the first process that
 * asks for it, under an exclusive flock(2) on the file (only when a driver
 * opens, never per message); from then on its time is only raised, with a
 * compare-and-swap, and read with a plain atomic load, so that closing a
 * provider is one store the other processes see at their next look, with
 * no lock and no system call on either side. The file is created with the
 * database file's permissions (whoever may write the database may pause
 * its providers) and never removed. */
#include "herald/pauses.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/buf.h"

#define NSLOTS 64
#define NAME_MAX_LEN 55
static const char magic[16] = "herald-pauses-1";

#if ATOMIC_LLONG_LOCK_FREE != 2
#error "the pause file needs lock-free 64-bit atomics (they are shared between processes)"
#endif

struct hd_pause_slot {
    char name[NAME_MAX_LEN + 1];
    _Atomic int64_t until_ms;
};

struct pause_file {
    char magic[16];
    char reserved[48];
    struct hd_pause_slot slots[NSLOTS];
};

_Static_assert(sizeof(struct hd_pause_slot) == 64, "a slot is 64 bytes");

struct hd_pauses {
    int fd;
    struct pause_file *map;
};

/* With the file locked: a new (or cut short) file gets its header; one with
 * another header is refused. */
static int shape(int fd, const char *path, struct hd_err *err)
{
    struct stat sb;
    char head[sizeof magic];
    if (fstat(fd, &sb) < 0)
        return hd_err_set(err, HD_E_IO, "'%s': %s", path, strerror(errno));
    if ((size_t)sb.st_size >= sizeof head && pread(fd, head, sizeof head, 0) == sizeof head &&
        memcmp(head, magic, sizeof magic) == 0)
        return 0;
    if (sb.st_size != 0)
        return hd_err_set(err, HD_E_IO,
                          "'%s' is not herald's pause file; move it away and herald makes a new "
                          "one",
                          path);
    if (ftruncate(fd, (off_t)sizeof(struct pause_file)) < 0 ||
        pwrite(fd, magic, sizeof magic, 0) != (ssize_t)sizeof magic)
        return hd_err_set(err, HD_E_IO, "'%s': %s", path, strerror(errno));
    return 0;
}

int hd_pauses_open(const char *db_path, struct hd_pauses **out, struct hd_err *err)
{
    struct hd_buf path;
    struct stat db;
    int rc = 0, fd = -1;
    hd_buf_init(&path);
    hd_buf_addf(&path, "%s.pauses", db_path);
    mode_t mode = stat(db_path, &db) == 0 ? (db.st_mode & 0666) : 0600;
    if ((fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, mode)) < 0) {
        rc = hd_err_set(err, HD_E_IO, "'%s': %s", path.data, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX) < 0) {
        rc = hd_err_set(err, HD_E_IO, "'%s': %s", path.data, strerror(errno));
        goto out;
    }
    struct stat sb;
    /* a new file: the database's mode, whatever the umask took off */
    if (fstat(fd, &sb) == 0 && sb.st_size == 0)
        (void)fchmod(fd, mode);
    rc = shape(fd, path.data, err);
    flock(fd, LOCK_UN);
    if (rc < 0)
        goto out;
    void *map = mmap(NULL, sizeof(struct pause_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = hd_err_set(err, HD_E_IO, "'%s': %s", path.data, strerror(errno));
        goto out;
    }
    struct hd_pauses *p = hd_xcalloc(1, sizeof *p);
    p->fd = fd;
    p->map = map;
    fd = -1;
    *out = p;
out:
    if (fd >= 0)
        close(fd);
    hd_buf_release(&path);
    return rc;
}

void hd_pauses_free(struct hd_pauses *p)
{
    if (!p)
        return;
    munmap(p->map, sizeof *p->map);
    close(p->fd);
    free(p);
}

struct hd_pause_slot *hd_pauses_slot(struct hd_pauses *p, const char *provider)
{
    size_t len = strlen(provider);
    struct hd_pause_slot *found = NULL;
    if (!p || len == 0 || len > NAME_MAX_LEN || flock(p->fd, LOCK_EX) < 0)
        return NULL;
    for (size_t i = 0; i < NSLOTS && !found; i++) {
        struct hd_pause_slot *s = &p->map->slots[i];
        if (s->name[0] == '\0') {
            memcpy(s->name, provider, len + 1);
            found = s;
        } else if (strcmp(s->name, provider) == 0) {
            found = s;
        }
    }
    flock(p->fd, LOCK_UN);
    return found;
}

int64_t hd_pause_slot_until(const struct hd_pause_slot *s)
{
    return atomic_load_explicit(&((struct hd_pause_slot *)s)->until_ms, memory_order_relaxed);
}

void hd_pause_slot_raise(struct hd_pause_slot *s, int64_t until_ms)
{
    int64_t cur = atomic_load(&s->until_ms);
    while (cur < until_ms && !atomic_compare_exchange_weak(&s->until_ms, &cur, until_ms))
        ;
}
