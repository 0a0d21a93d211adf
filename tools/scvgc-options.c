/* Prints the SCVGC_* options table (the library's own, from core/options.c): the text of
 * `scvgc --help`, or with --markdown the table of docs/env.md. */
#include <string.h>

#include "internal.h"

int main(int argc, char **argv) {
  scvgc_options_print(1, argc > 1 && !strcmp(argv[1], "--markdown"));
  return 0;
}
