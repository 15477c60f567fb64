#include "delta/rolling_checksum.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ferry {

namespace {

// Sum of the bytes (a) and of each byte times its index (b), both mod 2^32.
void sums_scalar(const uint8_t* data, size_t len, uint32_t* a, uint32_t* b) {
  uint32_t sa = 0, sb = 0;
  for (size_t i = 0; i < len; ++i) {
    sa += data[i];
    sb += static_cast<uint32_t>(i) * data[i];
  }
  *a = sa;
  *b = sb;
}

#if defined(__x86_64__)
// The same 16 bytes at a time: pmaddubsw multiplies each byte by its index in the chunk (0..15)
// and adds neighbours (at most 2*15*255, fits int16); psadbw sums the bytes. The chunk's offset
// times its byte sum is added through prefix sums, so nothing serial remains in the loop:
//   sum over chunks k of 16k * S_k  =  16 * ((K-1) * P_{K-1} - sum_{k<K-1} P_k),  P_k = S_0+..+S_k.
__attribute__((target("ssse3"))) void sums_ssse3(const uint8_t* data, size_t len, uint32_t* a, uint32_t* b) {
  const __m128i weights = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i ones16 = _mm_set1_epi16(1);
  const __m128i zero = _mm_setzero_si128();
  __m128i weighted = zero;  // 4 x u32: sum of j * x within chunks
  __m128i prefix = zero;    // 2 x u64 lanes used as u32: running byte sum P
  __m128i prefixes = zero;  // sum of P over all chunks but the last
  size_t chunks = len / 16;
  for (size_t k = 0; k < chunks; ++k) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * k));
    weighted = _mm_add_epi32(weighted, _mm_madd_epi16(_mm_maddubs_epi16(x, weights), ones16));
    prefixes = _mm_add_epi32(prefixes, prefix);
    prefix = _mm_add_epi32(prefix, _mm_sad_epu8(x, zero));
  }
  auto lanes = [](__m128i v) {
    alignas(16) uint32_t out[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(out), v);
    return out[0] + out[1] + out[2] + out[3];
  };
  uint32_t sum = lanes(prefix);           // P_{K-1}
  uint32_t sum_prefixes = lanes(prefixes);  // sum_{k<K-1} P_k
  uint32_t sb = lanes(weighted);
  if (chunks > 0) sb += 16u * (static_cast<uint32_t>(chunks - 1) * sum - sum_prefixes);
  uint32_t ta, tb;
  size_t done = chunks * 16;
  sums_scalar(data + done, len - done, &ta, &tb);
  *a = sum + ta;
  *b = sb + tb + static_cast<uint32_t>(done) * ta;
}

bool have_ssse3() {
  static const bool yes = __builtin_cpu_supports("ssse3");
  return yes;
}
#endif

}  // namespace

void RollingChecksum::update(const uint8_t* data, size_t len) {
  uint32_t a, b;
#if defined(__x86_64__)
  if (have_ssse3()) {
    sums_ssse3(data, len, &a, &b);
  } else {
    sums_scalar(data, len, &a, &b);
  }
#else
  sums_scalar(data, len, &a, &b);
#endif
  // Appending len bytes x_0..x_{n-1} (each plus kCharOffset) to the window:
  //   s1 += sum(x) + 31 n
  //   s2 += n * s1_old + sum((n - i) x_i) + 31 n (n + 1) / 2,  with sum((n - i) x_i) = n a - b.
  uint32_t n = static_cast<uint32_t>(len);
  uint32_t n_plus_1_n_half = static_cast<uint32_t>((static_cast<uint64_t>(len) * (len + 1) / 2));
  s2_ += n * s1_ + (n * a - b) + kCharOffset * n_plus_1_n_half;
  s1_ += a + kCharOffset * n;
  count_ += len;
}

}  // namespace ferry
