#include "brokers/redis/redis_wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ferry::redis {
namespace {

constexpr std::string_view kMagic("\0FERRY\1", 7);

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

bool GetU32(std::string_view& in, std::uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  in.remove_prefix(4);
  return true;
}

bool GetString(std::string_view& in, std::string& s) {
  std::uint32_t n = 0;
  if (!GetU32(in, n) || in.size() < n) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

void Apply(Message& m, const std::string& key, std::string value) {
  if (key == "content-type") m.content_type = std::move(value);
  else if (key == "reply-to") m.reply_to = std::move(value);
  else if (key.starts_with("m:")) m.metadata.Set(key.substr(2), std::move(value));
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const Endpoint& e, std::string_view display) {
  timeval tv{};
  tv.tv_sec = e.connect_timeout.count() / 1000;
  tv.tv_usec = (e.connect_timeout.count() % 1000) * 1000;
  redisContext* ctx = redisConnectWithTimeout(e.host.c_str(), e.port, tv);
  if (!ctx) return Error::Internal("out of memory making a Redis connection");
  if (ctx->err) {
    std::string why = ctx->errstr;
    redisFree(ctx);
    return Error::Connection("cannot connect to " + std::string(display) + ": " + why);
  }
  redisEnableKeepAlive(ctx);
  std::unique_ptr<Connection> conn(new Connection(ctx, std::string(display)));
  // The handshake gets the connect timeout too: a server that accepts but
  // does not answer must not hold the caller. Callers set their own after.
  conn->SetTimeout(e.connect_timeout);
  if (!e.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!e.user.empty()) auth.push_back(e.user);
    auth.push_back(e.password);
    auto r = conn->Command(auth);
    if (!r.ok())
      return Error::PermissionDenied("cannot log in to " + std::string(display) + ": " +
                                     r.error().message());
  }
  if (e.db != 0) {
    auto r = conn->Command({"SELECT", std::to_string(e.db)});
    if (!r.ok()) return r.error();
  }
  return conn;
}

Connection::~Connection() { redisFree(ctx_); }

void Connection::SetTimeout(std::chrono::milliseconds limit) {
  timeout_ = limit;
  timeval tv{};
  tv.tv_sec = limit.count() / 1000;
  tv.tv_usec = (limit.count() % 1000) * 1000;
  redisSetTimeout(ctx_, tv);
}

// The one place hiredis's errors become Ferry errors. After any of them the
// context is unusable (hiredis keeps ctx->err set), so the link is broken.
Error Connection::LinkError(std::string_view what) {
  const int saved_errno = errno;
  broken_ = true;
  std::string why = ctx_->err ? ctx_->errstr : "connection lost";
  if (ctx_->err == REDIS_ERR_IO && timeout_.count() > 0 &&
      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
    why = "no answer within " + std::to_string(timeout_.count()) + " ms";
  return Error::Connection(display_ + ": " + std::string(what) + ": " + why);
}

Result<Reply> Connection::Command(const std::vector<std::string>& args) {
  if (broken_) return Error::Connection(display_ + ": connection lost");
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!reply) return LinkError(args.empty() ? "command" : args[0]);
  if (reply->type == REDIS_REPLY_ERROR)
    return Error::FailedPrecondition(args[0] + ": " + std::string(reply->str, reply->len));
  return reply;
}

std::vector<Result<Reply>> Connection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<Result<Reply>> out;
  out.reserve(commands.size());
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  std::size_t appended = 0;
  for (; appended < commands.size() && !broken_; ++appended) {
    const auto& args = commands[appended];
    argv.clear();
    lens.clear();
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      break;
  }
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const std::string& name = commands[i].empty() ? std::string("command") : commands[i][0];
    void* raw = nullptr;
    if (i >= appended || broken_) {
      out.emplace_back(broken_ ? Error::Connection(display_ + ": connection lost")
                               : LinkError(name));
      continue;
    }
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) {
      out.emplace_back(LinkError(name));
      continue;
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR)
      out.emplace_back(Error::FailedPrecondition(name + ": " + std::string(reply->str, reply->len)));
    else
      out.emplace_back(std::move(reply));
  }
  return out;
}

Result<Reply> Connection::Next() {
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return LinkError("reading");
  return Reply(static_cast<redisReply*>(raw));
}

bool Connection::Stale() const {
  if (broken_) return true;
  pollfd p{.fd = ctx_->fd, .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) != 0;
}

void Connection::Interrupt() { ::shutdown(ctx_->fd, SHUT_RDWR); }

std::string Encode(const Message& m) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [k, v] : m.metadata) fields.emplace_back("m:" + k, v);
  if (m.content_type) fields.emplace_back("content-type", *m.content_type);
  if (!m.reply_to.empty()) fields.emplace_back("reply-to", m.reply_to);
  if (fields.empty() && !std::string_view(m.data.view()).starts_with(kMagic))
    return std::string(m.data.view());  // nothing to carry: plain data
  std::string out(kMagic);
  PutU32(out, static_cast<std::uint32_t>(fields.size()));
  for (const auto& [k, v] : fields) {
    PutU32(out, static_cast<std::uint32_t>(k.size()));
    out += k;
    PutU32(out, static_cast<std::uint32_t>(v.size()));
    out += v;
  }
  out += m.data.view();
  return out;
}

Message Decode(std::string_view topic, std::string_view payload) {
  Message m;
  m.topic = std::string(topic);
  std::string_view in = payload;
  if (in.starts_with(kMagic)) {
    in.remove_prefix(kMagic.size());
    std::uint32_t count = 0;
    bool ok = GetU32(in, count);
    Message parsed = m;
    for (std::uint32_t i = 0; ok && i < count; ++i) {
      std::string k, v;
      ok = GetString(in, k) && GetString(in, v);
      if (ok) Apply(parsed, k, std::move(v));
    }
    if (ok) {
      parsed.data = Bytes::FromString(std::string(in));
      return parsed;
    }
    in = payload;  // not a well-formed envelope after all: plain data
  }
  m.data = Bytes::FromString(std::string(in));
  return m;
}

std::vector<std::string> StreamFields(const Message& m) {
  std::vector<std::string> out{"data", std::string(m.data.view())};
  if (m.content_type) {
    out.push_back("content-type");
    out.push_back(*m.content_type);
  }
  if (!m.reply_to.empty()) {
    out.push_back("reply-to");
    out.push_back(m.reply_to);
  }
  for (const auto& [k, v] : m.metadata) {
    out.push_back("m:" + k);
    out.push_back(v);
  }
  return out;
}

Message FromStreamFields(std::string_view topic, const redisReply* fields) {
  Message m;
  m.topic = std::string(topic);
  if (!fields || fields->type != REDIS_REPLY_ARRAY) return m;
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    std::string k(fields->element[i]->str, fields->element[i]->len);
    std::string v(fields->element[i + 1]->str, fields->element[i + 1]->len);
    if (k == "data") m.data = Bytes::FromString(v);
    else Apply(m, k, std::move(v));
  }
  return m;
}

std::string ToGlob(std::string_view pattern) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = pattern.find('.', start);
    std::string_view token = pattern.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (start > 0) out += '.';
    if (token == "*" || token == ">") {
      out += '*';
    } else {
      for (char c : token) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

}  // namespace ferry::redis
