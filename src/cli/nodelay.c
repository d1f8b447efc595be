/* nodelay: sets TCP_NODELAY on every TCP socket this process connects.
 *
 * Why: libesmtp writes a message of more than about 2 KB in two small
 * writes; with Nagle's algorithm the second waits for the server's delayed
 * ACK, about 44 ms a message, which capped a connection near 23 messages a
 * second against postfix's smtp-sink. libesmtp has no hook for socket
 * options, so the herald binary defines connect() itself: the dynamic linker
 * binds libesmtp's calls (and everyone else's) to this definition, which
 * calls the C library's connect and then sets the option. Linked into the
 * herald binary only, not into libherald.a. Compiled with -D_GNU_SOURCE
 * (see the Makefile), which RTLD_NEXT needs. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* glibc's prototype under _GNU_SOURCE (which RTLD_NEXT needs) takes a
 * transparent union; the definition must match it exactly. */
int connect(int fd, __CONST_SOCKADDR_ARG arg, socklen_t len)
{
    static int (*real)(int, __CONST_SOCKADDR_ARG, socklen_t);
    const struct sockaddr *addr = arg.__sockaddr__;
    if (!real) /* a benign race: every thread stores the same pointer */
        *(void **)&real = dlsym(RTLD_NEXT, "connect");
    int rc = real(fd, arg, len);
    int saved = errno;
    if ((rc == 0 || errno == EINPROGRESS) && addr &&
        (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
        int type = 0, one = 1;
        socklen_t tl = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    errno = saved;
    return rc;
}
