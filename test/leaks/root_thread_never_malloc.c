// case: an object handed to a thread that never called malloc, and referenced only from that thread's stack, is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: send_parcel
/* main allocates a 144-byte parcel and passes its address through a pipe; the consumer thread,
 * which never calls malloc, reads the address into a volatile local and blocks in read(2).
 * It says so through the handshake only after the read, so the pointer is out of the kernel
 * and on its stack before main drops its own copy and returns. */
#include "leakcase.h"
#include <pthread.h>

static struct handshake ready;
static int mailbox[2];

static NOINLINE void send_parcel(void)
{
    void *parcel = malloc(144);
    if (!parcel)
        die("malloc failed");
    if (write(mailbox[1], &parcel, sizeof parcel) != sizeof parcel)
        die("write failed");
    parcel = NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    void *volatile parcel;
    void *got;
    if (read(mailbox[0], &got, sizeof got) != sizeof got)
        die("read failed");
    parcel = got;
    got = NULL;
    handshake_signal(&ready);
    block_in_read_forever();
    (void)parcel;
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pipe(mailbox) != 0)
        die("pipe failed");
    if (pthread_create(&t, NULL, consumer, NULL) != 0)
        die("pthread_create failed");
    send_parcel();
    scrub();
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
