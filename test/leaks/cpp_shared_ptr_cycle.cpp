// case: two shared_ptr-owned objects that point to each other are reported once the last outside reference is gone (one direct, one indirect); a pair whose back link is a weak_ptr is freed and not reported
// env: SCVGC_STACK_DEPTH=32
// expect: direct_objects=1 direct_bytes=56 indirect_objects=1 indirect_bytes=56
// expect-leak: function=make_cycle kind=direct objects=1 bytes=56
// expect-leak: function=make_cycle kind=indirect objects=1 bytes=56
// expect-not-reported: make_weak_pair
/* make_shared allocates the 16-byte control block and the 40-byte Peer in one 56-byte block.
 * In make_cycle the two blocks own each other (use counts never reach 0): the classic
 * reference-counting leak, which a tracing collector sees. */
#include "leakcase.h"
#include <memory>

struct Peer {
    std::shared_ptr<Peer> other;
    std::weak_ptr<Peer> back;
    long id;
};

static NOINLINE void make_cycle()
{
    std::shared_ptr<Peer> a = std::make_shared<Peer>(), b = std::make_shared<Peer>();
    a->other = b;
    b->other = a;
}

static NOINLINE void make_weak_pair()
{
    std::shared_ptr<Peer> a = std::make_shared<Peer>(), b = std::make_shared<Peer>();
    a->other = b;
    b->back = a;
}

int main()
{
    make_cycle();
    make_weak_pair();
    scrub();
    return 0;
}
