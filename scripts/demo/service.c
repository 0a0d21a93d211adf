/* The HTML report's demo (docs/report.png): a toy key-value service that parses requests,
 * keeps a cache and a session table, and leaks on a few of its paths, at different depths:
 *   - parse_header: the copy of every header it could not classify;
 *   - session_open: a session of every tenth client, with its history list (indirect leaks);
 *   - reply_error: the message buffer of every error reply;
 *   - config_load: the old configuration when it reloads.
 * 10000 requests; about 45 MiB allocated and freed on the way.
 *   service            the 10000 requests at once (a short run)
 *   service SECONDS    a day of the service in SECONDS (docs/report.png: 16): traffic all along,
 *                      and a blob store of large values that grows to about 48 MiB in the
 *                      first quarter, is evicted in the second (then idle: the scavenger
 *                      gives the pages back), grows to about 24 MiB in the third and is
 *                      dropped in the last, so the report's timeline shows the heap and RSS
 *                      rise and fall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry { struct entry *next; char key[24]; char *value; };
struct hist { struct hist *next; char line[56]; };
struct session { int client; struct hist *history; char token[40]; };
struct config { char *name; size_t limit; char *motd; };

static struct entry *cache[256];
static struct session *sessions[64];
static struct config *config;

static unsigned hash(const char *s) { unsigned h = 5381; while (*s) h = h * 33 + (unsigned char)*s++; return h; }

static char *copy(const char *s) { size_t n = strlen(s) + 1; return memcpy(malloc(n), s, n); }

static void cache_put(const char *key, const char *value) {
  struct entry **slot = &cache[hash(key) % 256];
  for (struct entry *e = *slot; e; e = e->next)
    if (!strcmp(e->key, key)) { free(e->value); e->value = copy(value); return; }
  struct entry *e = calloc(1, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->value = copy(value);
  e->next = *slot;
  *slot = e;
}

static int parse_header(const char *line) {
  char *h = copy(line);                       /* leaked when the header is unknown */
  if (!strncmp(h, "Key:", 4) || !strncmp(h, "Value:", 6)) { free(h); return 1; }
  return 0;
}

static void session_note(struct session *s, const char *what) {
  struct hist *x = malloc(sizeof *x);
  snprintf(x->line, sizeof x->line, "%s", what);
  x->next = s->history;
  s->history = x;
}

static struct session *session_open(int client) {
  struct session *s = calloc(1, sizeof *s);
  s->client = client;
  snprintf(s->token, sizeof s->token, "tok-%08x", hash("salt") ^ (unsigned)client);
  session_note(s, "open");
  return s;
}

static void session_close(int slot) {
  struct session *s = sessions[slot];
  if (!s) return;
  if (s->client % 10 == 0) { sessions[slot] = NULL; return; }   /* forgets the session */
  while (s->history) { struct hist *n = s->history->next; free(s->history); s->history = n; }
  free(s);
  sessions[slot] = NULL;
}

static void reply_error(int code) {
  char *msg = malloc(128);                    /* never freed */
  snprintf(msg, 128, "error %d", code);
  (void)msg;
}

static void config_load(int generation) {
  struct config *c = malloc(sizeof *c);
  c->name = copy(generation % 2 ? "primary" : "secondary");
  c->limit = 1000 + (size_t)generation;
  c->motd = copy("welcome to the toy key-value service");
  config = c;                                 /* the old one is dropped, strings and all */
}

static void handle(int client, int n) {
  char key[32], value[200], header[64];
  snprintf(key, sizeof key, "k%d", n % 5000);
  memset(value, 'a' + n % 26, sizeof value - 1);
  value[sizeof value - 1] = 0;
  if (n % 50) snprintf(header, sizeof header, "Key: %s", key);
  else snprintf(header, sizeof header, "X-Trace: %d", n);
  parse_header(header);
  int slot = client % 64;
  if (!sessions[slot]) sessions[slot] = session_open(client);
  session_note(sessions[slot], key);
  if (n % 7 == 0) session_close(slot);
  if (n % 333 == 0) reply_error(404);
  else cache_put(key, value);
  char *tmp = malloc(4096);                   /* request scratch: freed */
  memset(tmp, 0, 4096);
  free(tmp);
}

/* ---- the long run: a blob store that grows and shrinks --------------------------------- */

#define NBLOBS 3072
static char *blobs[NBLOBS];

static void blob_put(int i) {
  size_t n = 4096 + (size_t)(i * 7919 % 8) * 4096; /* 4 to 32 KiB */
  free(blobs[i]);
  blobs[i] = malloc(n);
  memset(blobs[i], i, n);
}

static void blob_evict(int i) { free(blobs[i]); blobs[i] = NULL; }

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void tick(void) {
  struct timespec t = {0, 20000000}; /* 20 ms */
  nanosleep(&t, NULL);
}

static int day(double seconds) {
  double start = now_s(), q = seconds / 4;
  int n = 0;
  config_load(0);
  for (double t; (t = now_s() - start) < seconds; tick()) {
    int phase = (int)(t / q);
    double f = (t - phase * q) / q;       /* how far into the quarter, 0..1 */
    for (int k = 0; k < 40; k++, n++) {    /* traffic: 2000 requests a second */
      handle(n % 97, n);
      if (n % 5000 == 4999) config_load(n / 5000 + 1);
    }
    if (phase == 0) /* grow to NBLOBS (about 48 MiB) */
      for (int i = 0; i < (int)(f * NBLOBS) && i < NBLOBS; i++) { if (!blobs[i]) blob_put(i); }
    else if (phase == 1) /* evict all in the first half; then idle */
      for (int i = 0; i < (int)(2 * f * NBLOBS) && i < NBLOBS; i++) blob_evict(i);
    else if (phase == 2) /* half as many again */
      for (int i = 0; i < (int)(f * NBLOBS / 2) && i < NBLOBS; i++) { if (!blobs[i]) blob_put(i); }
    else /* dropped at the start of the last quarter */
      for (int i = 0; i < NBLOBS; i++) blob_evict(i);
  }
  printf("served %d requests in %.0f s, config %s\n", n, seconds, config->name);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1) return day(atof(argv[1]) > 0 ? atof(argv[1]) : 16);
  config_load(0);
  for (int n = 1; n <= 10000; n++) {
    handle(n % 97, n);
    if (n % 2500 == 0) config_load(n / 2500);
  }
  printf("served 10000 requests, config %s\n", config->name);
  return 0;
}
