// case: selftest sample: each process of a fork reports its own leak
// reports: 2
// expect: direct_objects=1 direct_bytes=56 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_in_parent kind=direct objects=1 bytes=56
// expect-not-reported: leak_in_child
// child-expect: direct_objects=1 direct_bytes=40 indirect_objects=0 indirect_bytes=0
// child-expect-leak: function=leak_in_child kind=direct objects=1 bytes=40
// child-expect-not-reported: leak_in_parent
int main(void)
{
    return 0;
}
