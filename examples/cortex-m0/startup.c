/*
 * Reset handler, vector table and semihosting for a Cortex-M without a C runtime:
 * copy .data from flash, zero .bss, run main(), then report the exit to the debugger
 * (qemu's -semihosting ends the simulation there).
 */
#include <stdint.h>

#include "semihost.h"

extern uint32_t _stack_top, _data_start, _data_end, _data_load, _bss_start, _bss_end;
int main(void);

static int semihost_call(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_puts(const char *text) { semihost_call(0x04, text); }

void semihost_putint(int32_t value) {
    char buf[12];
    char *p = buf + sizeof buf - 1;
    uint32_t v = value < 0 ? (uint32_t)0 - (uint32_t)value : (uint32_t)value;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    if (value < 0) *--p = '-';
    semihost_puts(p);
}

void semihost_exit(int status) {
    /* SYS_EXIT_EXTENDED: ADP_Stopped_ApplicationExit with the status as exit code */
    static uint32_t block[2];
    block[0] = 0x20026u;
    block[1] = (uint32_t)status;
    semihost_call(0x20, block);
    for (;;) {
    }
}

void reset_handler(void) {
    uint32_t *src = &_data_load, *dst;
    for (dst = &_data_start; dst < &_data_end;) *dst++ = *src++;
    for (dst = &_bss_start; dst < &_bss_end;) *dst++ = 0;
#ifdef ENABLE_FPU
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10/CP11 */
    __asm__ volatile("dsb\n\tisb");
#endif
    semihost_exit(main());
}

__attribute__((section(".vectors"), used)) const uintptr_t vectors[2] = {(uintptr_t)&_stack_top, (uintptr_t)reset_handler};
