// case: std::string objects leaked through raw pointers: each string object is direct and its heap buffer (capacity + 1 bytes) indirect; a short string has no buffer
// env: SCVGC_STACK_DEPTH=32
// expect: direct_objects=3 direct_bytes=104 indirect_objects=2 indirect_bytes=102
// expect-leak: function=make_long_string kind=direct objects=1 bytes=32
// expect-leak: function=make_long_string kind=indirect objects=1 bytes=61
// expect-leak: function=make_short_string kind=direct objects=1 bytes=32
// expect-leak: function=make_person kind=direct objects=1 bytes=40
// expect-leak: function=make_person kind=indirect objects=1 bytes=41
// expect-not-reported: keep_string
/* A std::string is 32 bytes with a 15-character inline buffer; longer contents go to a heap
 * buffer of length + 1. new std::string(60, 'a'): 32 + 61. new std::string("short"): 32 only.
 * new Person{std::string(40, 'n'), 7}: a 40-byte struct whose member owns a 41-byte buffer.
 * The kept string (in a global) owns a 101-byte buffer. */
#include "leakcase.h"
#include <string>

struct Person {
    std::string name;
    int age;
};

static std::string *volatile kept;

static NOINLINE void make_long_string()
{
    std::string *volatile s = new std::string(60, 'a');
    if (s->size() != 60)
        die("bad string");
    s = nullptr;
}

static NOINLINE void make_short_string()
{
    std::string *volatile s = new std::string("short");
    if (s->size() != 5)
        die("bad string");
    s = nullptr;
}

static NOINLINE void make_person()
{
    Person *volatile p = new Person{std::string(40, 'n'), 7};
    if (p->name.size() != 40)
        die("bad person");
    p = nullptr;
}

static NOINLINE void keep_string()
{
    kept = new std::string(100, 'k');
}

int main()
{
    make_long_string();
    make_short_string();
    make_person();
    keep_string();
    scrub();
    return 0;
}
