#ifndef NEPHOMETER_LIBVIRT_EVENTS_H
#define NEPHOMETER_LIBVIRT_EVENTS_H

/* libvirt's event loop, written for Nephometer: it serves only the sockets and timers registered while
   accepting is on (the connection opened for domain events), and refuses the rest, so libvirt's
   polling connections stay without asynchronous I/O (with the default event loop every RPC reply on
   them also woke the loop's thread: 0.3 s of CPU per cycle at 1000 domains behind libvirtd).
   Start once, before any connection opens; the loop runs on a thread of its own. */

/* 0 when the loop is registered with libvirt and runs; -1 otherwise. Idempotent. */
int nephometer_libvirt_events_start(void);

/* Accept (1) or refuse (0) new handles and timers. Turned on only around opening the events
   connection and registering its callbacks. */
void nephometer_libvirt_events_accept(int on);

#endif
