// case: a program that allocates nothing itself reports no leak (nothing the loader or libc allocated counts)
// expect: direct_objects=0 direct_bytes=0 indirect_objects=0 indirect_bytes=0
/* The baseline: whatever ld.so, libc and the library's start-up put in the heap is reachable. */
int main(void)
{
    return 0;
}
