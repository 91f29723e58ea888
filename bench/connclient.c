/*
 * The load client of bench/connections.py: N TCP connections to tests/apps/CounterApp, each
 * sending one line per period (the connections' sends spread evenly over it), every reply checked.
 * One thread, one epoll set: a Python or .NET client would spend more on itself than the service.
 *
 * Usage: connclient <port> <connections> <seconds> <period_ms> <records-file> [websocket]
 * Prints "ready <monotonic ns>" once every connection is open and has had its first reply, then
 * sends for <seconds>, waits for the last replies and prints one JSON summary line. The file gets
 * one line per reply: "<conn> <seq> <sent ns> <received ns> <generation>" (CLOCK_MONOTONIC, as the
 * Python side's time.monotonic_ns()).
 *
 * CounterApp answers "<generation> <pid> <turn> <total> <line>"; the line is "<conn> <seq>", and
 * turn counts the connection's lines across generations (its session), so a reply whose seq is not
 * the next expected, or whose turn is not seq + 1 (the first line is turn 1), is a lost, duplicated
 * or reordered message.
 *
 * With "websocket" each connection is a WebSocket (CounterApp under COUNTER_PROTOCOL=websocket):
 * the Upgrade request first, then each line is a masked text frame "<conn> <seq>" and each reply a
 * text frame. Written here rather than taken from a library because one epoll thread must drive
 * 10,000 of them with nothing else in the way; it speaks only what this benchmark needs (text
 * frames under 126 bytes out, unmasked frames in, close frames counted as goodbyes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING 64 /* sends remembered per connection: far more than can be in flight at one per period */

struct conn {
    int fd;
    long next_seq;     /* the next line to send */
    long expect_seq;   /* the next reply due */
    int last_gen;
    int closed;
    long long sent_ns[RING];
    int upgraded;      /* websocket: the 101 answer has been read */
    char in[512];
    int in_len;
};

static int websocket;
static int port;

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

static struct conn *conns;
static int n;
static FILE *records;
static long replies, errors_seq, errors_turn, errors_gen, closed_count, bye_count, send_errors;
static long gen_counts[16];
static char first_error[256];

static void error_at(const char *what, int c, const char *line)
{
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s on connection %d: %.180s", what, c, line);
}

/* A fixed key: the benchmark's own server, so its answer's accept value is not checked (the 101 is). */
static void send_upgrade(int c)
{
    char request[256];
    int len = snprintf(request, sizeof request, "GET /counter HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port);
    if (write(conns[c].fd, request, len) != len) { send_errors++; error_at("short write", c, strerror(errno)); }
}

static void send_line(int c)
{
    struct conn *k = &conns[c];
    char line[64];
    int len;
    if (websocket) {
        /* FIN + text, masked, a 7-bit length; the mask varies per frame as RFC 6455 asks. */
        char text[48];
        int n = snprintf(text, sizeof text, "%d %ld", c, k->next_seq);
        unsigned mask = (unsigned)rand();
        line[0] = (char)0x81;
        line[1] = (char)(0x80 | n);
        memcpy(line + 2, &mask, 4);
        for (int i = 0; i < n; i++) line[6 + i] = text[i] ^ line[2 + (i & 3)];
        len = 6 + n;
    } else
        len = snprintf(line, sizeof line, "%d %ld\n", c, k->next_seq);
    k->sent_ns[k->next_seq % RING] = now_ns();
    if (write(k->fd, line, len) != len) { send_errors++; error_at("short write", c, strerror(errno)); }
    k->next_seq++;
}

/* One reply (NUL-terminated, no newline); returns 1 when it was an answer. */
static int take_reply(int c, char *start, long long at)
{
    struct conn *k = &conns[c];
    if (!strncmp(start, "BYE", 3)) { bye_count++; error_at("goodbye", c, start); return 0; }
    int gen, pid, conn_id; long turn, total, seq;
    if (sscanf(start, "%d %d %ld %ld %d %ld", &gen, &pid, &turn, &total, &conn_id, &seq) != 6 || conn_id != c) {
        errors_seq++; error_at("unreadable reply", c, start);
        return 0;
    }
    if (seq != k->expect_seq) { errors_seq++; error_at("reply out of sequence", c, start); }
    if (turn != seq + 1) { errors_turn++; error_at("turn is not seq + 1", c, start); }
    if (gen < k->last_gen) { errors_gen++; error_at("an older generation answered", c, start); }
    k->last_gen = gen;
    k->expect_seq = seq + 1;
    gen_counts[gen & 15]++;
    if (seq > 0 && seq < k->next_seq && records)
        fprintf(records, "%d %ld %lld %lld %d\n", c, seq, k->sent_ns[seq % RING], at, gen);
    replies++;
    return 1;
}

/* Websocket: the 101 answer, then every whole server frame in the buffer. */
static int take_frames(int c, long long at)
{
    struct conn *k = &conns[c];
    int got = 0;
    char *start = k->in, *end = k->in + k->in_len;
    if (!k->upgraded) {
        char *blank = memmem(start, end - start, "\r\n\r\n", 4);
        if (!blank) goto keep;
        if (strncmp(start, "HTTP/1.1 101", 12)) { *blank = 0; bye_count++; error_at("handshake refused", c, start); }
        k->upgraded = 1;
        start = blank + 4;
    }
    while (end - start >= 2) {
        unsigned char op = (unsigned char)start[0] & 0x0f, b1 = (unsigned char)start[1];
        long len = b1 & 0x7f, head = 2;
        if (b1 & 0x80) { errors_seq++; error_at("masked server frame", c, ""); }
        if (len == 126) {
            if (end - start < 4) break;
            len = ((unsigned char)start[2] << 8) | (unsigned char)start[3];
            head = 4;
        } else if (len == 127) { errors_seq++; error_at("frame too long", c, ""); start = end; break; }
        if (end - start < head + len) break;
        char text[512];
        long copy = len < (long)sizeof text - 1 ? len : (long)sizeof text - 1;
        memcpy(text, start + head, copy);
        text[copy] = 0;
        if (op == 0x1) got += take_reply(c, text, at);
        else if (op == 0x8) { bye_count++; error_at("close frame", c, copy > 2 ? text + 2 : ""); }
        start += head + len;
    }
keep:
    k->in_len = (int)(end - start);
    memmove(k->in, start, k->in_len);
    if (k->in_len == sizeof k->in) { errors_seq++; error_at("frame too long", c, ""); k->in_len = 0; }
    return got;
}

/* Handles every whole line in the connection's buffer; returns the number of replies. */
static int take_lines(int c, long long at)
{
    struct conn *k = &conns[c];
    if (websocket) return take_frames(c, at);
    int got = 0;
    char *start = k->in, *end;
    while ((end = memchr(start, '\n', k->in + k->in_len - start))) {
        *end = 0;
        got += take_reply(c, start, at);
        start = end + 1;
    }
    k->in_len -= (int)(start - k->in);
    memmove(k->in, start, k->in_len);
    if (k->in_len == sizeof k->in) { errors_seq++; error_at("line too long", c, ""); k->in_len = 0; }
    return got;
}

/* Reads what is there; returns replies taken, -1 once the connection ended. */
static int on_readable(int c, long long at)
{
    struct conn *k = &conns[c];
    int got = 0;
    for (;;) {
        ssize_t r = read(k->fd, k->in + k->in_len, sizeof k->in - k->in_len);
        if (r > 0) { k->in_len += (int)r; got += take_lines(c, at); continue; }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return got;
        if (!k->closed) { k->closed = 1; closed_count++; error_at("connection closed", c, r < 0 ? strerror(errno) : "eof"); }
        close(k->fd);
        return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) { fprintf(stderr, "usage: connclient <port> <connections> <seconds> <period_ms> <records-file> [websocket]\n"); return 2; }
    port = atoi(argv[1]);
    websocket = argc > 6 && !strcmp(argv[6], "websocket");
    n = atoi(argv[2]);
    double seconds = atof(argv[3]);
    long long period = (long long)(atof(argv[4]) * 1e6);
    records = fopen(argv[5], "w");
    static char records_buffer[1 << 22];
    setvbuf(records, records_buffer, _IOFBF, sizeof records_buffer);
    conns = calloc(n, sizeof *conns);
    int ep = epoll_create1(0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct epoll_event events[1024];

    /* Open them a batch at a time (the listener's backlog is finite), each with its first line,
     * seq 0, whose answer says the service serves it. */
    long long opened_from = now_ns();
    int answered = 0;
    for (int c = 0; c < n; c++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { fprintf(stderr, "socket: %s (raise RLIMIT_NOFILE)\n", strerror(errno)); return 1; }
        if (connect(fd, (struct sockaddr *)&to, sizeof to)) { fprintf(stderr, "connect %d: %s\n", c, strerror(errno)); return 1; }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[c].fd = fd;
        conns[c].last_gen = 0;
        if (websocket) send_upgrade(c);
        send_line(c);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (unsigned)c };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        if (c % 256 == 255 || c == n - 1) {
            /* Wait for this batch's answers before opening more. */
            while (answered < c + 1) {
                int m = epoll_wait(ep, events, 1024, 10000);
                if (m <= 0) { fprintf(stderr, "no answer to the first lines (%d of %d)\n", answered, c + 1); return 1; }
                long long at = now_ns();
                for (int i = 0; i < m; i++) {
                    int got = on_readable((int)events[i].data.u32, at);
                    if (got > 0) answered += got;
                }
            }
        }
    }
    long long ready = now_ns();
    printf("ready %lld %.1f\n", ready, (ready - opened_from) / 1e6);
    fflush(stdout);

    /* Connection c sends at ready + c/n periods, then once every period. */
    long long start = ready + 1000000LL, stop = start + (long long)(seconds * 1e9);
    long long step = period / n; /* the gap between two connections' sends */
    if (step == 0) step = 1;
    long sent_slots = 0;
    long long max_lag = 0;
    for (;;) {
        long long t = now_ns();
        long long due;
        while ((due = start + sent_slots * step) <= t && due < stop) {
            int c = (int)(sent_slots % n);
            if (!conns[c].closed) send_line(c);
            if (t - due > max_lag) max_lag = t - due;
            sent_slots++;
        }
        long outstanding = 0;
        if (due >= stop) {
            for (int c = 0; c < n; c++) if (!conns[c].closed) outstanding += conns[c].next_seq - conns[c].expect_seq;
            if (outstanding == 0 || t > stop + 10000000000LL) break;
        }
        long long wait_ns = due < stop ? due - t : 50000000LL;
        int timeout = (int)(wait_ns / 1000000);
        int m = epoll_wait(ep, events, 1024, timeout < 0 ? 0 : timeout);
        long long at = now_ns();
        for (int i = 0; i < m; i++) on_readable((int)events[i].data.u32, at);
    }
    fflush(records);
    long unanswered = 0;
    for (int c = 0; c < n; c++) if (!conns[c].closed) unanswered += conns[c].next_seq - conns[c].expect_seq;
    printf("{\"connections\": %d, \"sent\": %ld, \"replies\": %ld, \"unanswered\": %ld, \"out_of_sequence\": %ld, \"bad_turn\": %ld,"
           " \"older_generation\": %ld, \"closed\": %ld, \"goodbyes\": %ld, \"send_errors\": %ld, \"max_send_lag_ms\": %.3f,"
           " \"by_generation\": {\"1\": %ld, \"2\": %ld, \"3\": %ld}, \"first_error\": \"%s\"}\n",
           n, sent_slots + n, replies, unanswered, errors_seq, errors_turn, errors_gen, closed_count, bye_count, send_errors,
           max_lag / 1e6, gen_counts[1], gen_counts[2], gen_counts[3], first_error);
    return 0;
}
