// SPDX-License-Identifier: Apache-2.0
// Deterministic noise for the detector tests: the same numbers on every platform and run
// (std::normal_distribution is implementation-defined, std::mt19937's output is not).
#pragma once

#include <cstdint>
#include <random>

namespace medic::detect::test {

class Noise {
public:
  explicit Noise(std::uint32_t seed) : m_engine(seed) {}

  // Roughly normal with the given standard deviation: the sum of four uniforms, scaled.
  double normal(double sigma) {
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      sum += static_cast<double>(m_engine()) / 4294967296.0;
    }
    // Four uniforms: mean 2, variance 4/12.
    return (sum - 2.0) * sigma * 1.7320508075688772;
  }

  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(m_engine()) / 4294967296.0; }

private:
  std::mt19937 m_engine;
};

} // namespace medic::detect::test
