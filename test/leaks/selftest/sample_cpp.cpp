// case: selftest sample: C++ function names match demangled and mangled
// expect: direct_objects=3 direct_bytes=48 indirect_objects=0 indirect_bytes=0
// expect-leak: function=make_widget kind=direct objects=3 bytes=48
// expect-not-reported: make_widget_pool
int main()
{
    return 0;
}
