/* Library for notroot_dlclose.c: keeps a pointer in its .bss until it is unloaded. */
void *dlclose_slot;

void dlclose_keep(void *p)
{
    dlclose_slot = p;
}
