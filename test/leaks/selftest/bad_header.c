// case: selftest sample with a typo in its header
// expect: direct_objects=0 direct_bytes=0 indirect_objects=0 indirect_bytes=0
// expect-leek: function=f kind=direct objects=1 bytes=1
int main(void)
{
    return 0;
}
