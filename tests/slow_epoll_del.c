/* slow_epoll_del: an LD_PRELOAD shim for test_serve_stop_under_load. The
 * main thread's EPOLL_CTL_DEL waits 30 ms before it is made, so that a
 * worker awake at a stop takes the listening socket out of its own epoll
 * set first: with epoll workers, libmicrohttpd 0.9.75's MHD_quiesce_daemon
 * then gets ENOENT and aborts the process (MHD_PANIC). herald's workers
 * use poll(), and the stopping thread never gets here. Built by the test
 * with the system's cc; not part of herald. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "epoll_ctl");
    if (op == EPOLL_CTL_DEL && syscall(SYS_gettid) == getpid()) {
        struct timespec ts = {0, 30 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return real(epfd, op, fd, ev);
}
