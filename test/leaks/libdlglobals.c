/* Library for root_dlopen_globals.c: keeps pointers in its writable data (.bss, .data). */
void *dlglobals_bss_slot;
static struct {
    long tag;
    void *p;
} dlglobals_table = {7, 0};

void dlglobals_keep(void *in_bss, void *in_data)
{
    dlglobals_bss_slot = in_bss;
    dlglobals_table.p = in_data;
}
