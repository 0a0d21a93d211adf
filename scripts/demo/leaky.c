/* The demo's leaky program: a list whose head is dropped, a cache kept in a global, and a
 * buffer lost in a loop. */
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char name[24]; };
static struct node *cache;

static struct node *make_list(int n) {
  struct node *head = NULL;
  for (int i = 0; i < n; i++) {
    struct node *x = malloc(sizeof *x);
    x->next = head;
    strcpy(x->name, "node");
    head = x;
  }
  return head;
}

static void lose_buffers(void) {
  for (int i = 0; i < 3; i++) {
    char *buf = malloc(1000);
    memset(buf, i, 1000);
  }
}

int main(void) {
  cache = make_list(10);    /* still reachable at exit: not a leak */
  make_list(5);             /* dropped: one direct leak, four indirect */
  lose_buffers();           /* three direct leaks from one site */
  return 0;
}
