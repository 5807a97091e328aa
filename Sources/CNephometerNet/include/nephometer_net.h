#ifndef NEPHOMETER_NET_H
#define NEPHOMETER_NET_H
#include <stddef.h>
#include <sys/uio.h>

/* Sends up to `count` datagrams stored back to back in `base` on a connected socket with one sendmmsg(2)
   call: the first spans bytes [start, ends[0]), datagram i spans [ends[i-1], ends[i]).
   Returns the number sent, or -1 with errno set. */
int nephometer_sendmmsg_packed(int fd, const unsigned char *base, size_t start, const size_t *ends, unsigned int count);

/* Receives up to `count` datagrams into `buffers` (each `size` bytes) with one recvmmsg(2) call;
   lengths[i] gets each datagram's length. Returns the number received, or -1 with errno set. */
int nephometer_recvmmsg(int fd, unsigned char *buffers, size_t size, unsigned int count, size_t *lengths, int flags);
#endif
