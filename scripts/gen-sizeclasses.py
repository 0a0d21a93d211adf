#!/usr/bin/env python3
"""Generates the size-class tables of core/sizeclass.c (printed on stdout).

Classes: Go's table (runtime/sizeclasses.go) without 8 and 24, so every class is a
multiple of 16. npages: the fewest 8 KiB pages whose tail waste is <= 1/8 of the span.
divmul: ceil(2^32 / size), exact for every offset below 2^16 * 16 (see sizeclass.c).
"""
PAGE = 8192
SIZES = [16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
         352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
         1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912,
         8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480,
         21760, 24576, 27264, 28672, 32768]


def npages(size):
    n = 1
    while (n * PAGE) % size * 8 > n * PAGE:
        n += 1
    return n


def main():
    rows = ["  {0, 0, 0, 0},"]
    for s in SIZES:
        n = npages(s)
        rows.append("  {%d, %d, %d, %du}," % (s, n, n * PAGE // s, -(-(1 << 32) // s)))
    cls_of = lambda n: next(i + 1 for i, s in enumerate(SIZES) if s >= n)
    small = [cls_of(max(1, i * 16)) for i in range(1024 // 16 + 1)]
    large = [cls_of(1024 + i * 128) for i in range((32768 - 1024) // 128 + 1)]
    print("const scvgc_class_t scvgc_classes[SCVGC_NCLASSES] = {")
    print("\n".join(rows))
    print("};\n")
    for name, tab in (("scvgc_class_small", small), ("scvgc_class_large", large)):
        print("const uint8_t %s[%d] = {" % (name, len(tab)))
        for i in range(0, len(tab), 16):
            print("  " + ", ".join(str(x) for x in tab[i:i + 16]) + ",")
        print("};\n")
    assert len(SIZES) + 1 == 66


main()
