// case: a std::map leaked through a raw pointer: the map object is direct, its ten tree nodes indirect
// env: SCVGC_STACK_DEPTH=32
// expect: direct_objects=1 direct_bytes=48 indirect_objects=10 indirect_bytes=400
// expect-leak: function=make_map kind=direct objects=1 bytes=48
// expect-leak: function=fill_map kind=indirect objects=10 bytes=400
/* std::map<int, int> is 48 bytes (comparator, header node, count); each node is the 32-byte
 * red-black node base plus the 8-byte pair: 40 bytes. The nodes point to each other and to the
 * header inside the map object, which nothing points to. */
#include "leakcase.h"
#include <map>

static NOINLINE std::map<int, int> *make_map()
{
    return new std::map<int, int>();
}

static NOINLINE void fill_map(std::map<int, int> *m)
{
    for (int i = 0; i < 10; i++)
        (*m)[i] = i * i;
}

static NOINLINE void leak_map()
{
    std::map<int, int> *m = make_map();
    fill_map(m);
    m = nullptr;
}

int main()
{
    leak_map();
    scrub();
    return 0;
}
