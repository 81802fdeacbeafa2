/*
 * daemon_event - what every libevent daemon does on SIGTERM and SIGINT:
 * log the signal and leave its event loop, so main() frees what it holds
 * and exits cleanly (the master sends SIGTERM to stop or reload a
 * service).  daemon_event_stop_on_signals() fails loudly: a daemon that
 * cannot be stopped must not run.
 */
#ifndef TERN_DAEMON_EVENT_H
#define TERN_DAEMON_EVENT_H

struct event_base;
struct daemon_stop;

/* Arm SIGTERM and SIGINT on base; log_fatal on failure. */
struct daemon_stop *daemon_event_stop_on_signals(struct event_base *base);
void	daemon_event_stop_free(struct daemon_stop *);

#endif
