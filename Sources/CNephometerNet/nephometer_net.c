#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "nephometer_net.h"

#define BATCH 256

int nephometer_sendmmsg_packed(int fd, const unsigned char *base, size_t start, const size_t *ends, unsigned int count) {
    struct mmsghdr headers[BATCH];
    struct iovec iov[BATCH];
    if (count > BATCH) count = BATCH;
    memset(headers, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)(base + start);
        iov[i].iov_len = ends[i] - start;
        start = ends[i];
        headers[i].msg_hdr.msg_iov = &iov[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, headers, count, 0);
}

int nephometer_recvmmsg(int fd, unsigned char *buffers, size_t size, unsigned int count, size_t *lengths, int flags) {
    struct mmsghdr headers[BATCH];
    struct iovec iov[BATCH];
    if (count > BATCH) count = BATCH;
    memset(headers, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        iov[i].iov_base = buffers + i * size;
        iov[i].iov_len = size;
        headers[i].msg_hdr.msg_iov = &iov[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, headers, count, flags, NULL);
    for (int i = 0; i < n; i++) lengths[i] = headers[i].msg_len;
    return n;
}
