// Throwaway certificates for TLS tests, made with the openssl command line
// (Debian's openssl, installed by scripts/setup.sh) into a folder of their
// own: a CA, a server certificate for 127.0.0.1 and localhost signed by it,
// a client certificate (mutual TLS), an unrelated second CA, and a server
// certificate that expired in 2020, and one for another host name. Keys are
// P-256, unencrypted PKCS#8.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "ferry/result.h"
#include "support/host_fixture.h"

namespace ferry::testing {

struct TlsFiles {
  std::filesystem::path ca;             // trusts server and client
  std::filesystem::path other_ca;       // trusts nothing here
  std::filesystem::path server_cert, server_key;
  std::filesystem::path expired_cert;   // key: server_key
  std::filesystem::path other_name_cert;  // names only elsewhere.example; key: server_key
  std::filesystem::path client_cert, client_key;
  // server_cert, then server_key, in one file (Kafka's PEM key store).
  std::filesystem::path server_pem_bundle;
};

class TlsCerts {
 public:
  // Makes every file; a failing openssl run is an error with its output.
  static Result<TlsCerts> Make();

  const TlsFiles& files() const { return files_; }
  const std::filesystem::path& dir() const { return dir_->path(); }

 private:
  std::shared_ptr<TempDir> dir_;
  TlsFiles files_;
};

// One set per test process, made on first use.
const TlsFiles& SharedTlsFiles();

}  // namespace ferry::testing
