#ifndef NEPHOMETER_BENCH_LOOP_H
#define NEPHOMETER_BENCH_LOOP_H
#include <stddef.h>
/* The ceiling for the UDP publisher benchmark: sends `count` datagrams of `size` bytes to
   127.0.0.1:port with sendmmsg(2), `batch` (at most 256) per call, on a connected socket.
   Returns seconds taken. */
double bench_sendmmsg_loop(int port, size_t size, long count, int batch);
#endif
