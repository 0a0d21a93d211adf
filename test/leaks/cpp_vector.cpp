// case: a std::vector leaked through a raw pointer: the vector object is direct, its element buffer indirect; a vector kept in a global is not reported
// env: SCVGC_STACK_DEPTH=32
// expect: direct_objects=1 direct_bytes=24 indirect_objects=1 indirect_bytes=512
// expect-leak: function=make_vector kind=direct objects=1 bytes=24
// expect-leak: function=fill_vector kind=indirect objects=1 bytes=512
// expect-not-reported: keep_vector
/* 100 push_backs from empty grow the capacity 1, 2, 4, ..., 128 (libstdc++ doubles): the last
 * buffer is 128 ints, 512 bytes; the seven earlier buffers were freed. The kept vector
 * reserve()d 1000 ints. push_back reaches malloc through about eight libstdc++ frames, hence
 * the deeper stacks. */
#include "leakcase.h"
#include <vector>

static std::vector<int> *volatile kept;

static NOINLINE std::vector<int> *make_vector()
{
    return new std::vector<int>();
}

static NOINLINE void fill_vector(std::vector<int> *v)
{
    for (int i = 0; i < 100; i++)
        v->push_back(i);
}

static NOINLINE void leak_vector()
{
    std::vector<int> *v = make_vector();
    fill_vector(v);
    if (v->capacity() != 128)
        die("unexpected vector growth");
    v = nullptr;
}

static NOINLINE void keep_vector()
{
    std::vector<int> *v = new std::vector<int>();
    v->reserve(1000);
    kept = v;
}

int main()
{
    leak_vector();
    keep_vector();
    scrub();
    return 0;
}
