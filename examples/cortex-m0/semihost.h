/* Minimal Arm semihosting: text output and exit, no C library needed. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

void semihost_puts(const char *text);
void semihost_putint(int32_t value);
void semihost_exit(int status);

#endif
