/* paths: where herald finds its files. `make install` compiles in the
 * folders it installs to (HD_BINDIR, HD_SYSCONFDIR, HD_DATADIR,
 * HD_LOCALSTATEDIR, from PREFIX, SYSCONFDIR, DATADIR, LOCALSTATEDIR); the
 * running binary is "installed" when it is BINDIR/herald itself (compared
 * through /proc/self/exe: the same device and inode). An installed herald reads
 * SYSCONFDIR/herald/herald.conf whatever the working directory and, for keys
 * its configuration leaves out, keeps its database, outbox and link secret in the state
 * folder LOCALSTATEDIR/lib/herald and reads templates from
 * DATADIR/herald/templates. Any other binary (build/herald in the source
 * tree, a test) keeps the relative defaults the source tree and the demo
 * use: var/herald.db, var/outbox, templates/, and etc/herald.conf first.
 * Nothing is cached: the answer is computed for each configuration load. */
#include <sys/stat.h>

#include "herald/config.h"

#ifndef HD_BINDIR
#define HD_BINDIR "/usr/local/bin"
#endif
#ifndef HD_SYSCONFDIR
#define HD_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef HD_DATADIR
#define HD_DATADIR "/usr/local/share"
#endif
#ifndef HD_LOCALSTATEDIR
#define HD_LOCALSTATEDIR "/usr/local/var"
#endif

/* the same file, whatever links or bind mounts lead to either */
static bool running_installed(void)
{
    struct stat self, installed;
    return stat("/proc/self/exe", &self) == 0 && stat(HD_BINDIR "/herald", &installed) == 0 &&
           self.st_dev == installed.st_dev && self.st_ino == installed.st_ino;
}

void hd_paths_get(struct hd_paths *p)
{
    p->installed = running_installed();
    p->sysconf = HD_SYSCONFDIR "/herald/herald.conf";
    p->state = HD_LOCALSTATEDIR "/lib/herald";
    if (p->installed) {
        p->database = HD_LOCALSTATEDIR "/lib/herald/herald.db";
        p->templates = HD_DATADIR "/herald/templates";
        p->outbox = HD_LOCALSTATEDIR "/lib/herald/outbox";
        p->secret = HD_LOCALSTATEDIR "/lib/herald/herald.secret";
        p->bounce_rules = HD_DATADIR "/herald/bounce-rules.tsv";
    } else {
        p->database = "var/herald.db";
        p->templates = "templates";
        p->outbox = "var/outbox";
        p->secret = "var/herald.secret";
        p->bounce_rules = "etc/bounce-rules.tsv";
    }
}
