// Runs a sketch's setup() and one loop(), then stops the simulated CPU.
#include <avr/interrupt.h>
#include <avr/sleep.h>

#include "Arduino.h"

HardwareSerial Serial;

int main() {
  setup();
  loop();
  loop_until_bit_is_set(UCSR0A, UDRE0);
  cli();
  sleep_enable();
  sleep_cpu();
  return 0;
}
