/*
 * The few pieces of the Arduino core that examples/arduino sketches use, over the
 * ATmega2560's UART0, so the tests can build a sketch with plain avr-g++ and run it
 * in simavr (the real core is not packaged for Debian).
 */
#ifndef ARDUINO_H
#define ARDUINO_H

#include <avr/io.h>
#include <stdint.h>

class HardwareSerial {
 public:
  void begin(unsigned long) { UCSR0B = (uint8_t)(1 << TXEN0); }
  void write(char c) {
    loop_until_bit_is_set(UCSR0A, UDRE0);
    UDR0 = (uint8_t)c;
  }
  void print(const char *s) {
    while (*s) write(*s++);
  }
  void print(long v) {
    char buf[12];
    char *p = buf + sizeof buf - 1;
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    *p = '\0';
    do {
      *--p = (char)('0' + u % 10u);
      u /= 10u;
    } while (u);
    if (v < 0) *--p = '-';
    print(p);
  }
  void println(long v) {
    print(v);
    print("\r\n");
  }
};

extern HardwareSerial Serial;

void setup();
void loop();

#endif
