/*
 * Baselines for bench/handover.py, measured in the same run as the relays: how long the kernel
 * takes to stream N bytes over a Unix socket pair into a reused buffer (what copied state cannot
 * beat), and to pass one file descriptor with SCM_RIGHTS (what a RelayMemory region costs).
 * Usage: rawstream <bytes> <runs>  -> one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

struct job { int fd; size_t bytes; char *data; };

static void *writer(void *arg)
{
    struct job *j = arg;
    for (size_t done = 0; done < j->bytes;) {
        ssize_t n = write(j->fd, j->data + done, j->bytes - done > (1 << 20) ? (1 << 20) : j->bytes - done);
        if (n <= 0) exit(2);
        done += (size_t)n;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoull(argv[1], NULL, 10) : 51200;
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    char *data = malloc(bytes), *buffer = malloc(1 << 20);
    memset(data, 7, bytes);
    memset(buffer, 0, 1 << 20);
    double *stream = calloc(runs, sizeof(double)), *fdpass = calloc(runs, sizeof(double));
    for (int r = 0; r < runs + 2; r++) {
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        struct job j = { sv[0], bytes, data };
        pthread_t t;
        double start = now_ms();
        pthread_create(&t, NULL, writer, &j);
        for (size_t got = 0; got < bytes;) {
            ssize_t n = read(sv[1], buffer, 1 << 20);
            if (n <= 0) return 2;
            got += (size_t)n;
        }
        double elapsed = now_ms() - start;
        pthread_join(t, NULL);
        /* One fd over SCM_RIGHTS, sent and received. */
        int memfd = memfd_create("x", 0);
        char byte = 1, control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { &byte, 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &memfd, sizeof(int));
        double f0 = now_ms();
        sendmsg(sv[0], &m, 0);
        recvmsg(sv[1], &m, 0);
        double f = now_ms() - f0;
        int received;
        memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
        close(received); close(memfd); close(sv[0]); close(sv[1]);
        if (r >= 2) { stream[r - 2] = elapsed; fdpass[r - 2] = f; } /* two warm-up runs */
    }
    qsort(stream, runs, sizeof(double), cmp);
    qsort(fdpass, runs, sizeof(double), cmp);
    printf("{\"bytes\": %zu, \"runs\": %d, \"stream_ms_p50\": %.4f, \"fd_pass_ms_p50\": %.4f}\n", bytes, runs, stream[runs / 2], fdpass[runs / 2]);
    return 0;
}
