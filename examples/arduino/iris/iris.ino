// Classify three iris flowers on an Arduino Uno/Mega and print the classes.
//
//   emlc ../../models/iris_xgb.json -O2 --target avr --name iris -o iris_model.h
//
// then open this folder in the Arduino IDE (or arduino-cli) and upload. The model's
// tables live in flash (PROGMEM), so they cost no RAM.
#include "iris_model.h"

static const float flowers[3][4] = {
  {5.1f, 3.5f, 1.4f, 0.2f},  // setosa
  {6.4f, 3.2f, 4.5f, 1.5f},  // versicolor
  {6.3f, 3.3f, 6.0f, 2.5f},  // virginica
};

void setup() {
  Serial.begin(115200);
  for (int i = 0; i < 3; i++) {
    long cls = iris_predict(flowers[i], 4);
    Serial.print("flower ");
    Serial.print((long)i);
    Serial.print(": class ");
    Serial.println(cls);
  }
}

void loop() {}
