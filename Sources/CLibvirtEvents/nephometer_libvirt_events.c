#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include "nephometer_libvirt_events.h"

#define SLOTS 64

struct handle {
    int id, fd, events, deleted;
    virEventHandleCallback cb;
    void *opaque;
    virFreeCallback ff;
};

struct timer {
    int id, interval, deleted;
    long long expires; /* ms, monotonic; -1 = disabled */
    virEventTimeoutCallback cb;
    void *opaque;
    virFreeCallback ff;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle handles[SLOTS];
static struct timer timers[SLOTS];
static int nhandles, ntimers, next_id = 1, accepting, started, wake_fds[2] = {-1, -1};

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void wake(void) {
    char c = 0;
    if (wake_fds[1] >= 0) { ssize_t r = write(wake_fds[1], &c, 1); (void)r; }
}

static short to_poll(int events) {
    short e = 0;
    if (events & VIR_EVENT_HANDLE_READABLE) e |= POLLIN;
    if (events & VIR_EVENT_HANDLE_WRITABLE) e |= POLLOUT;
    return e;
}

static int from_poll(short revents) {
    int e = 0;
    if (revents & POLLIN) e |= VIR_EVENT_HANDLE_READABLE;
    if (revents & POLLOUT) e |= VIR_EVENT_HANDLE_WRITABLE;
    if (revents & POLLERR) e |= VIR_EVENT_HANDLE_ERROR;
    if (revents & POLLHUP) e |= VIR_EVENT_HANDLE_HANGUP;
    return e;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
    pthread_mutex_lock(&lock);
    if (!accepting || nhandles == SLOTS) { pthread_mutex_unlock(&lock); return -1; }
    struct handle *h = &handles[nhandles++];
    *h = (struct handle){ .id = next_id++, .fd = fd, .events = events, .cb = cb, .opaque = opaque, .ff = ff };
    int id = h->id;
    pthread_mutex_unlock(&lock);
    wake();
    return id;
}

static void update_handle(int id, int events) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nhandles; i++) if (handles[i].id == id && !handles[i].deleted) handles[i].events = events;
    pthread_mutex_unlock(&lock);
    wake();
}

static int remove_handle(int id) {
    int found = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nhandles; i++) if (handles[i].id == id && !handles[i].deleted) { handles[i].deleted = 1; found = 0; }
    pthread_mutex_unlock(&lock);
    wake();
    return found;
}

static int add_timeout(int interval, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
    pthread_mutex_lock(&lock);
    if (!accepting || ntimers == SLOTS) { pthread_mutex_unlock(&lock); return -1; }
    struct timer *t = &timers[ntimers++];
    *t = (struct timer){ .id = next_id++, .interval = interval, .expires = interval >= 0 ? now_ms() + interval : -1,
                         .cb = cb, .opaque = opaque, .ff = ff };
    int id = t->id;
    pthread_mutex_unlock(&lock);
    wake();
    return id;
}

static void update_timeout(int id, int interval) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ntimers; i++) {
        if (timers[i].id == id && !timers[i].deleted) {
            timers[i].interval = interval;
            timers[i].expires = interval >= 0 ? now_ms() + interval : -1;
        }
    }
    pthread_mutex_unlock(&lock);
    wake();
}

static int remove_timeout(int id) {
    int found = -1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ntimers; i++) if (timers[i].id == id && !timers[i].deleted) { timers[i].deleted = 1; found = 0; }
    pthread_mutex_unlock(&lock);
    wake();
    return found;
}

struct release { virFreeCallback ff; void *opaque; };

static void *run(void *unused) {
    (void)unused;
    struct pollfd fds[SLOTS + 1];
    int ids[SLOTS + 1];
    struct release releases[2 * SLOTS];
    for (;;) {
        int nrel = 0, n = 0;
        long long soonest = -1, now = now_ms();
        pthread_mutex_lock(&lock);
        /* Forget what was removed (its free callback runs outside the lock, as libvirt expects). */
        for (int i = 0; i < nhandles;) {
            if (handles[i].deleted) {
                if (handles[i].ff) releases[nrel++] = (struct release){ handles[i].ff, handles[i].opaque };
                handles[i] = handles[--nhandles];
            } else i++;
        }
        for (int i = 0; i < ntimers;) {
            if (timers[i].deleted) {
                if (timers[i].ff) releases[nrel++] = (struct release){ timers[i].ff, timers[i].opaque };
                timers[i] = timers[--ntimers];
            } else i++;
        }
        fds[n] = (struct pollfd){ .fd = wake_fds[0], .events = POLLIN };
        ids[n++] = 0;
        for (int i = 0; i < nhandles; i++) {
            if (handles[i].events == 0) continue;
            fds[n] = (struct pollfd){ .fd = handles[i].fd, .events = to_poll(handles[i].events) };
            ids[n++] = handles[i].id;
        }
        for (int i = 0; i < ntimers; i++) {
            if (timers[i].expires >= 0 && (soonest < 0 || timers[i].expires < soonest)) soonest = timers[i].expires;
        }
        pthread_mutex_unlock(&lock);
        for (int i = 0; i < nrel; i++) releases[i].ff(releases[i].opaque);

        int timeout = soonest < 0 ? -1 : (soonest <= now ? 0 : (int)(soonest - now));
        int r = poll(fds, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR) { usleep(100000); continue; }
        if (fds[0].revents & POLLIN) {
            char buf[64];
            while (read(wake_fds[0], buf, sizeof buf) > 0) {}
        }
        /* Due timers, then ready sockets; each callback looked up again, unlocked while it runs. */
        now = now_ms();
        for (;;) {
            virEventTimeoutCallback cb = NULL;
            void *opaque = NULL;
            int id = 0;
            pthread_mutex_lock(&lock);
            for (int i = 0; i < ntimers; i++) {
                struct timer *t = &timers[i];
                if (!t->deleted && t->expires >= 0 && t->expires <= now) {
                    cb = t->cb; opaque = t->opaque; id = t->id;
                    /* Re-armed; an interval of 0 fires again in the next round, not in this one. */
                    t->expires = now + (t->interval > 0 ? t->interval : 1);
                    break;
                }
            }
            pthread_mutex_unlock(&lock);
            if (!cb) break;
            cb(id, opaque);
        }
        for (int k = 1; k < n; k++) {
            if (!fds[k].revents) continue;
            virEventHandleCallback cb = NULL;
            void *opaque = NULL;
            int fd = fds[k].fd;
            pthread_mutex_lock(&lock);
            for (int i = 0; i < nhandles; i++) {
                if (handles[i].id == ids[k] && !handles[i].deleted) { cb = handles[i].cb; opaque = handles[i].opaque; }
            }
            pthread_mutex_unlock(&lock);
            if (cb) cb(ids[k], fd, from_poll(fds[k].revents), opaque);
        }
    }
    return NULL;
}

int nephometer_libvirt_events_start(void) {
    pthread_mutex_lock(&lock);
    if (started) { int ok = started > 0 ? 0 : -1; pthread_mutex_unlock(&lock); return ok; }
    started = -1;
    if (pipe2(wake_fds, O_NONBLOCK | O_CLOEXEC) != 0) { pthread_mutex_unlock(&lock); return -1; }
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, run, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) { pthread_mutex_unlock(&lock); return -1; }
    pthread_setname_np(thread, "nephometer-events");
    started = 1;
    pthread_mutex_unlock(&lock);
    virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout, remove_timeout);
    return 0;
}

void nephometer_libvirt_events_accept(int on) {
    pthread_mutex_lock(&lock);
    accepting = on;
    pthread_mutex_unlock(&lock);
}
