/* secure_leak — allocates, drops one object and exits. test/integration/secure.sh links it
 * against libscvgc.so (a set-user-ID program ignores LD_PRELOAD paths) and runs a
 * set-user-ID copy: the library must ignore every SCVGC_* variable there. */
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

int main(void) {
  char *p = malloc(4000);
  memset(p, 1, 4000);
  sink = p;
  sink = NULL;
  return 0;
}
