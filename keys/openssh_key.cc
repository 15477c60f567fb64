#include "keys/openssh_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "base/error.h"

namespace ferry {

namespace {

// The SSH wire encodings of RFC 4251: uint32, string, mpint.
class SshBuffer {
 public:
  void u32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<unsigned char>(v >> shift));
  }
  void string(const void* data, size_t len) {
    u32(static_cast<uint32_t>(len));
    const auto* p = static_cast<const unsigned char*>(data);
    bytes_.insert(bytes_.end(), p, p + len);
  }
  void string(const std::string& s) { string(s.data(), s.size()); }
  void string(const SshBuffer& b) { string(b.bytes_.data(), b.bytes_.size()); }
  void mpint(const BIGNUM* n) {
    std::vector<unsigned char> v(static_cast<size_t>(BN_num_bytes(n)));
    BN_bn2bin(n, v.data());
    if (!v.empty() && (v[0] & 0x80)) v.insert(v.begin(), 0);  // keep it positive
    string(v.data(), v.size());
  }
  void raw(const void* data, size_t len) {
    const auto* p = static_cast<const unsigned char*>(data);
    bytes_.insert(bytes_.end(), p, p + len);
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<unsigned char> bytes_;
};

std::string base64(const std::vector<unsigned char>& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_clear_free)>;

BnPtr bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw FatalError(std::string("OpenSSL: no RSA parameter ") + name);
  return BnPtr(bn, BN_clear_free);
}

}  // namespace

KeyPair generate_key_pair(const std::string& type, int bits, const std::string& comment) {
  KeyPair pair;
  SshBuffer pub, priv;
  if (type == "ed25519") {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
    if (!key) throw FatalError("OpenSSL could not generate an Ed25519 key");
    unsigned char pk[32], sk[64];
    size_t pk_len = sizeof(pk), seed_len = 32;
    if (EVP_PKEY_get_raw_public_key(key.get(), pk, &pk_len) != 1 ||
        EVP_PKEY_get_raw_private_key(key.get(), sk, &seed_len) != 1 || pk_len != 32 || seed_len != 32) {
      throw FatalError("OpenSSL could not export the Ed25519 key");
    }
    std::copy(pk, pk + 32, sk + 32);  // OpenSSH stores seed || public key
    pair.type = "ssh-ed25519";
    pub.string(pair.type);
    pub.string(pk, 32);
    priv.string(pair.type);
    priv.string(pk, 32);
    priv.string(sk, 64);
    OPENSSL_cleanse(sk, sizeof(sk));
  } else {
    PkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)), EVP_PKEY_free);
    if (!key) throw FatalError("OpenSSL could not generate an RSA key");
    BnPtr n = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N), e = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E),
          d = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_D), p = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR1),
          q = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR2),
          iqmp = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
    pair.type = "ssh-rsa";
    pub.string(pair.type);
    pub.mpint(e.get());
    pub.mpint(n.get());
    priv.string(pair.type);
    for (const BIGNUM* v : {n.get(), e.get(), d.get(), iqmp.get(), p.get(), q.get()}) priv.mpint(v);
  }
  pair.public_base64 = base64(pub.bytes());

  // The private section: two equal random check words, the key, the comment, then padding
  // 1, 2, 3... to a multiple of 8 (the "none" cipher's block size).
  uint32_t check = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof(check));
  SshBuffer section;
  section.u32(check);
  section.u32(check);
  section.raw(priv.bytes().data(), priv.size());
  section.string(comment);
  for (unsigned char pad = 1; section.size() % 8 != 0; ++pad) section.raw(&pad, 1);

  SshBuffer file;
  file.raw("openssh-key-v1", 15);  // with its terminating NUL
  file.string(std::string("none"));
  file.string(std::string("none"));
  file.string(std::string());
  file.u32(1);
  file.string(pub);
  file.string(section);
  std::string body = base64(file.bytes());
  pair.private_key = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  for (size_t i = 0; i < body.size(); i += 70) pair.private_key += body.substr(i, 70) + "\n";
  pair.private_key += "-----END OPENSSH PRIVATE KEY-----\n";
  return pair;
}

}  // namespace ferry
