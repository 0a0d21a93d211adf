// case: objects leaked with new and new[] are reported with their requested sizes (new[] of a type with a destructor adds the 8-byte array cookie); an array kept only through its first-element pointer is not
// expect: direct_objects=4 direct_bytes=180 indirect_objects=1 indirect_bytes=50
// expect-leak: function=make_point kind=direct objects=1 bytes=24
// expect-leak: function=make_int_array kind=direct objects=1 bytes=100
// expect-leak: function=leak_tracked_array kind=direct objects=1 bytes=40
// expect-leak: function=make_widget kind=direct objects=1 bytes=16
// expect-leak: function=make_widget kind=indirect objects=1 bytes=50
// expect-not-reported: keep_tracked_array
/* new Point: 24 bytes. new int[25]: 100 bytes, no cookie (trivial destructor). new Tracked[2]
 * (16-byte elements, user destructor): 2*16 + 8 = 40 bytes requested from operator new[], the
 * count stored first. new Tracked[4] kept in a global: 72 bytes, and the global holds the
 * address of element 0, 8 bytes into the block, an interior pointer. new Widget (vptr + a
 * pointer: 16 bytes) through a Base*, whose constructor does new char[50]: the widget is
 * direct, its buffer indirect (its stack names Widget::Widget and make_widget). */
#include "leakcase.h"
#include <new>

struct Point {
    double x, y, z;
};

struct Tracked {
    long id, generation;
    ~Tracked() { id = -1; }
};

struct Base {
    virtual ~Base() {}
};

struct Widget : Base {
    char *buffer;
    Widget() : buffer(new char[50]) {}
    ~Widget() override { delete[] buffer; }
};

static Tracked *volatile kept_array;

static NOINLINE void make_point()
{
    Point *volatile p = new Point();
    p->x = 1;
    p = nullptr;
}

static NOINLINE void make_int_array()
{
    int *volatile a = new int[25];
    a[24] = 1;
    a = nullptr;
}

static NOINLINE void leak_tracked_array()
{
    Tracked *volatile a = new Tracked[2];
    a[1].id = 1;
    a = nullptr;
}

static NOINLINE void keep_tracked_array()
{
    kept_array = new Tracked[4];
}

static NOINLINE void make_widget()
{
    Base *volatile b = new Widget();
    if (!dynamic_cast<Widget *>(b))
        die("not a widget");
    b = nullptr;
}

int main()
{
    make_point();
    make_int_array();
    leak_tracked_array();
    keep_tracked_array();
    make_widget();
    scrub();
    return 0;
}
