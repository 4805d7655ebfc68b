#include "support/tls_certs.h"

#include <array>
#include <cstdio>
#include <vector>

#include "support/matchers.h"

namespace ferry::testing {
namespace {

// Runs `command` in `dir`; its output when it fails.
Status Run(const std::filesystem::path& dir, const std::string& command) {
  const std::string line = "cd '" + dir.string() + "' && " + command + " 2>&1";
  FILE* p = ::popen(line.c_str(), "r");
  if (!p) return Error::Internal("cannot run openssl");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int rc = ::pclose(p);
  if (rc != 0) return Error::Internal("'" + command + "' failed: " + out);
  return Status::Ok();
}

constexpr const char* kKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

// `openssl ca` settings: the only portable way to choose a certificate's
// start and end dates (OpenSSL 3.0's x509 has no -not_before/-not_after).
constexpr const char* kCaConfig =
    "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\n"
    "certificate = ca.pem\nprivate_key = ca.key\nserial = serial\ndefault_md = sha256\n"
    "policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n";

}  // namespace

Result<TlsCerts> TlsCerts::Make() {
  TlsCerts certs;
  certs.dir_ = std::make_shared<TempDir>();
  const auto& dir = certs.dir_->path();
  certs.dir_->Write("server.ext", "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                                  "extendedKeyUsage = serverAuth\n");
  certs.dir_->Write("client.ext", "extendedKeyUsage = clientAuth\n");
  certs.dir_->Write("other-name.ext", "subjectAltName = DNS:elsewhere.example\n"
                                      "extendedKeyUsage = serverAuth\n");
  certs.dir_->Write("ca.cnf", kCaConfig);
  certs.dir_->Write("index.txt", "");
  certs.dir_->Write("serial", "10\n");
  const std::string key = kKey;
  const std::vector<std::string> commands = {
           "openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 3650 -subj '/CN=Ferry test CA'",
           "openssl req -x509 " + key + " -keyout other-ca.key -out other-ca.pem -days 3650 "
               "-subj '/CN=Unrelated test CA'",
           "openssl req " + key + " -keyout server.key -out server.csr -subj '/CN=localhost'",
           "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650 "
               "-extfile server.ext -out server.pem",
           "openssl ca -batch -config ca.cnf -notext -in server.csr -startdate 20200101000000Z "
               "-enddate 20200102000000Z -extfile server.ext -out expired.pem",
           "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 4 -days 3650 "
               "-extfile other-name.ext -out other-name.pem",
           "openssl req " + key + " -keyout client.key -out client.csr -subj '/CN=ferry-client'",
           "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 3650 "
               "-extfile client.ext -out client.pem",
           "cat server.pem server.key > server-bundle.pem",
       };
  for (const std::string& command : commands) {
    FERRY_RETURN_IF_ERROR(Run(dir, command));
  }
  certs.files_ = {.ca = dir / "ca.pem",
                  .other_ca = dir / "other-ca.pem",
                  .server_cert = dir / "server.pem",
                  .server_key = dir / "server.key",
                  .expired_cert = dir / "expired.pem",
                  .other_name_cert = dir / "other-name.pem",
                  .client_cert = dir / "client.pem",
                  .client_key = dir / "client.key",
                  .server_pem_bundle = dir / "server-bundle.pem"};
  return certs;
}

const TlsFiles& SharedTlsFiles() {
  static const TlsCerts certs = [] {
    auto made = TlsCerts::Make();
    EXPECT_OK(made);
    return made.ok() ? std::move(*made) : TlsCerts();
  }();
  return certs.files();
}

}  // namespace ferry::testing
