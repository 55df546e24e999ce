"""Target registry: names, facts the backend relies on, lookups."""

import pytest

from emlc.errors import EmlcError
from emlc.targets import TARGETS, Target, get_target


def test_registry_keys_are_names():
    assert all(k == t.name for k, t in TARGETS.items())
    assert {"host", "avr", "atmega328p", "cortex-m0", "cortex-m4f", "rv32ec", "mcs51"} <= set(TARGETS)


def test_facts():
    avr = get_target("avr")
    assert avr.word_bits == 8 and not avr.has_fpu and not avr.has_double
    assert avr.flash.include == "avr/pgmspace.h" and avr.flash_bytes == 256 * 1024 and avr.ram_bytes == 8 * 1024
    uno = get_target("atmega328p")  # Arduino Uno
    assert uno.ram_bytes == 2048 and uno.flash_bytes == 32 * 1024 and "-mmcu=atmega328p" in uno.cflags
    assert uno.flash.include == "avr/pgmspace.h" and not uno.has_double
    assert get_target("cortex-m4f").has_fpu and not get_target("cortex-m0").has_fpu
    assert get_target("rv32ec").flash_bytes == 16 * 1024 and "-mabi=ilp32e" in get_target("rv32ec").cflags
    assert get_target("mcs51").flash.qualifier.strip() == "__code"
    assert get_target("host").flash_bytes is None


def test_lookup_passes_targets_through_and_rejects_unknown():
    t = get_target("avr")
    assert isinstance(t, Target) and get_target(t) is t
    with pytest.raises(EmlcError, match="unknown target 'pic16'.*avr"):
        get_target("pic16")
