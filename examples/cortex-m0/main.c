/*
 * Bare-metal Cortex-M0 (BBC micro:bit, nRF51822): classify three iris flowers.
 *
 *   emlc ../models/iris_xgb.json -O2 --target cortex-m0 --name iris -o iris_model.h
 *   make            # arm-none-eabi-gcc, see Makefile
 *   make run        # in qemu-system-arm -M microbit, output over semihosting
 */
#include <stdint.h>

#include "iris_model.h"
#include "semihost.h"

static const float flowers[3][4] = {
    {5.1f, 3.5f, 1.4f, 0.2f}, /* setosa */
    {6.4f, 3.2f, 4.5f, 1.5f}, /* versicolor */
    {6.3f, 3.3f, 6.0f, 2.5f}, /* virginica */
};

int main(void) {
    int32_t i;
    for (i = 0; i < 3; i++) {
        int32_t cls = iris_predict(flowers[i], 4);
        semihost_puts("flower ");
        semihost_putint(i);
        semihost_puts(": class ");
        semihost_putint(cls);
        semihost_puts("\n");
    }
    return 0;
}
