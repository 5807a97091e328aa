#ifndef NEPHOMETER_NET_H
#define NEPHOMETER_NET_H
#include <stddef.h>
#include <sys/uio.h>

/* Sends `count` datagrams (one iovec each) on a connected socket with one sendmmsg(2) call.
   Returns the number sent, or -1 with errno set. */
int nephometer_sendmmsg(int fd, const struct iovec *datagrams, unsigned int count);

/* Receives up to `count` datagrams into `buffers` (each `size` bytes) with one recvmmsg(2) call;
   lengths[i] gets each datagram's length. Returns the number received, or -1 with errno set. */
int nephometer_recvmmsg(int fd, unsigned char *buffers, size_t size, unsigned int count, size_t *lengths, int flags);
#endif
