/* Library for root_dlopen_tls.c: keeps a pointer in its own __thread variable. Being dlopen'd
   and built -fPIC, its TLS is dynamic: glibc allocates the block with malloc on first use, in
   each thread, and reaches it through the thread's DTV. */
static __thread void *kept;

void dltls_keep(void *p)
{
    kept = p;
}
