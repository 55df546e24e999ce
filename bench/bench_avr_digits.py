"""Digits RandomForest on a simulated ATmega2560: flash, RAM, cycles, agreement.

scikit-learn digits, RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0),
30 test rows. Each variant is built into the same firmware (rows in PROGMEM, Timer1
without prescaler plus an overflow counter around the 30 predictions); model size is the
firmware minus an empty firmware (avr-size). Peers (emlearn, micromlgen, m2cgen) are
measured when their packages are installed; their code is generated at run time.

    python bench/bench_avr_digits.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import emlc  # noqa: E402
from emlc.backends.c import emit_c  # noqa: E402
from emlc.passes import optimize  # noqa: E402

MCU = "atmega2560"
CFLAGS = ["-mmcu=" + MCU, "-std=gnu99", "-Os", "-Wall"]

FIRMWARE = r"""
#include <stdint.h>
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
@MODEL@
static const float rows[@N@][64] PROGMEM = { @ROWS@ };
static volatile uint16_t overflows;
ISR(TIMER1_OVF_vect) { ++overflows; }
static void put(char c) { loop_until_bit_is_set(UCSR0A, UDRE0); UDR0 = (uint8_t)c; }
static void put_u32(uint32_t v) { char d[11]; int k = 0; do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v); while (k) put(d[--k]); }
int main(void) {
    static volatile @IN_T@ x[64];
    static int16_t pred[@N@];
    uint8_t r, j;
    uint32_t cycles = 0;
    UCSR0B = (uint8_t)(1 << TXEN0);
    TIMSK1 = (uint8_t)(1 << TOIE1);
    sei();
    for (r = 0; r < @N@; ++r) {
        uint16_t t0, t1, o0, o1;
        for (j = 0; j < 64; ++j) x[j] = (@IN_T@)pgm_read_float(&rows[r][j]);
        cli(); o0 = overflows; t0 = TCNT1; TCCR1B = 1; sei();
        pred[r] = (int16_t)(@CALL@);
        cli(); t1 = TCNT1; o1 = overflows;
        if ((TIFR1 & (1 << TOV1)) && t1 < 0x8000u) ++o1;
        TCCR1B = 0; sei();
        cycles += ((uint32_t)(o1 - o0) << 16) + (uint16_t)(t1 - t0);
    }
    for (r = 0; r < @N@; ++r) { put_u32((uint32_t)pred[r]); put(' '); }
    put('c'); put_u32(cycles / @N@); put('\n');
    cli(); sleep_enable(); sleep_cpu();
    return 0;
}
"""


def build_and_run(model_code: str, call: str, rows: np.ndarray, in_t: str, work: Path) -> tuple[list[int], int, int, int]:
    cells = ",".join("{" + ",".join(f"{float(v):.9e}f" for v in r) + "}" for r in rows)
    src = (FIRMWARE.replace("@MODEL@", model_code).replace("@ROWS@", cells).replace("@N@", str(len(rows)))
           .replace("@CALL@", call).replace("@IN_T@", in_t))
    (work / "fw.c").write_text(src)
    subprocess.run(["avr-gcc", *CFLAGS, "fw.c", "-o", "fw.elf"], cwd=work, check=True, capture_output=True)
    size = subprocess.run(["avr-size", "-A", "fw.elf"], cwd=work, check=True, capture_output=True, text=True).stdout
    sec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\.(\w+)\s+(\d+)", size, re.M)}
    flash = sec.get("text", 0) + sec.get("data", 0)
    ram = sec.get("data", 0) + sec.get("bss", 0)
    out = subprocess.run(["simavr", "-m", MCU, "-f", "16000000", "fw.elf"], cwd=work, capture_output=True,
                         text=True, timeout=300)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    m = re.search(r"((?:\d+ )+)c(\d+)", text.replace(".\n", "").replace("\n", ""))
    if not m:
        raise RuntimeError(f"no result from simavr:\n{text[-1000:]}")
    return [int(v) for v in m.group(1).split()], flash, ram, int(m.group(2))


def main() -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=30, random_state=0)
    clf = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xtr, ytr)
    want = clf.predict(Xte)
    ens = emlc.load(clf)
    variants: list[tuple[str, str, str, str]] = []  # (label, code, call, input C type)
    for level, layout in (("O0", "inline"), ("O0", "table"), ("O2", None), ("Os", None)):
        res = optimize(ens, level=level, target="avr", layout=layout)
        code = emit_c(res.ensemble, "avr", "model", res.layout)
        variants.append((f"emlc -{level} {res.layout}", code, "model_predict(x, 64)", "float"))
    res = optimize(ens.replace(input_type="int16"), level="O2", target="avr")
    variants.append((f"emlc -O2 --input int16 {res.layout}",
                     emit_c(res.ensemble, "avr", "model", res.layout), "model_predict(x, 64)", "int16_t"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _, base_flash, base_ram, _ = build_and_run("", "(int)x[0]", Xte, "float", work)
        print(f"{'variant':40s} {'flash B':>8s} {'RAM B':>6s} {'cycles':>8s} {'agree':>6s}")
        for label, code, call, in_t in variants:
            pred, flash, ram, cycles = build_and_run(code, call, Xte, in_t, work)
            agree = np.mean(np.asarray(ens.classes)[pred] == want) * 100
            print(f"{label:40s} {flash - base_flash:8d} {ram - base_ram:6d} {cycles:8d} {agree:5.1f}%")


if __name__ == "__main__":
    main()
