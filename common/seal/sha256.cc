#include "seal/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <new>

namespace ferry {

namespace {
// Fetched once: OpenSSL 3 looks EVP_sha256() up (under a lock) at every init otherwise, which
// cost more than hashing a seal record.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
void start(EVP_MD_CTX* ctx) {
  if (sha256_md() == nullptr || EVP_DigestInit_ex(ctx, sha256_md(), nullptr) != 1) throw std::bad_alloc();
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  start(ctx_);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t len) {
  if (len != 0) EVP_DigestUpdate(ctx_, data, len);
}

void Sha256::update_zeros(uint64_t len) {
  static const char zeros[64 * 1024] = {};
  while (len > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, sizeof zeros));
    update(zeros, n);
    len -= n;
  }
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &len);
  start(ctx_);
  return out;
}

Sha256Digest sha256_of(std::string_view bytes) {
  thread_local Sha256 h;  // a context per call would cost as much as the hash of a record
  h.update(bytes);
  return h.finish();
}

std::string hex_of(const Sha256Digest& digest) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

bool digest_from_hex(std::string_view hex, Sha256Digest* out) {
  if (hex.size() != 64) return false;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = value(hex[2 * i]), lo = value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace ferry
