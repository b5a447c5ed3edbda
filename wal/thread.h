/*
 * thread.h - starting a helper thread of the WAL and checkpoint layer.
 * Signals are the event loop's (its handlers and signalfd expect them
 * there), so a helper starts with every signal blocked.
 */
#ifndef LODE_WAL_THREAD_H
#define LODE_WAL_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create with every signal blocked in the new thread; the
 * caller's mask is left as it was. Returns 0 or pthread_create's error. */
static inline int wal_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

#endif
