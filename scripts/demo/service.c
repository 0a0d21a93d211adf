/* The HTML report's demo (docs/report.png): a toy key-value service that parses requests,
 * keeps a cache and a session table, and leaks on a few of its paths, at different depths:
 *   - parse_header: the copy of every header it could not classify;
 *   - session_open: a session of every tenth client, with its history list (indirect leaks);
 *   - reply_error: the message buffer of every error reply;
 *   - config_load: the old configuration when it reloads.
 * 10000 requests; about 45 MiB allocated and freed on the way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
  config_load(0);
  for (int n = 1; n <= 10000; n++) {
    handle(n % 97, n);
    if (n % 2500 == 0) config_load(n / 2500);
  }
  printf("served 10000 requests, config %s\n", config->name);
  return 0;
}
