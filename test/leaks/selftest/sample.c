// case: selftest sample: a leaked list, a control leak, a kept tree
// env: SCVGC_STACK_DEPTH=4
// expect: direct_objects=2 direct_bytes=61 indirect_objects=4 indirect_bytes=192
// expect-leak: function=list_push kind=direct objects=1 bytes=48
// expect-leak: function=list_push kind=indirect objects=4 bytes=192 groups=1
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_tree
// expect-order: list_push control_leak
/* Not a program run.sh builds (it lives in selftest/): only its header is read. */
int main(void)
{
    return 0;
}
