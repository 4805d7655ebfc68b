#include <cctype>
#include <cstdlib>
#include <cstring>

#include "brokers/nats/nats_internal.h"

namespace ferry::nats_internal {
namespace {

// NATS headers travel as "Key: value" lines, and cnats reads back only what
// such a line carries unchanged: a key of printable ASCII without ':', a
// non-empty value of printable ASCII without surrounding blanks (cnats
// trims them, and an empty value swallows the next line). Metadata that
// fits travels as its own header. Any other entry (unicode, an empty value,
// a line break, or a key the adapter uses itself) travels percent-encoded
// as a `Ferry-Meta: <key>=<value>` header, so every entry arrives as sent.
bool PlainHeader(const std::string& key, const std::string& value) {
  if (key.empty() || value.empty()) return false;
  for (unsigned char c : key)
    if (c <= ' ' || c >= 127 || c == ':') return false;
  for (unsigned char c : value)
    if (c < ' ' || c >= 127) return false;
  if (value.front() == ' ' || value.back() == ' ') return false;
  return key != kContentTypeHeader && key != kReplyToHeader && key != kMetaHeader;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Decodes what PercentEncode made; a malformed escape stays as it is.
std::string PercentDecode(std::string_view in) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                 : -1;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// The header value of an entry that is not a plain header.
std::string EncodedEntry(const std::string& key, const std::string& value) {
  return PercentEncode(key) + "=" + PercentEncode(value);
}

}  // namespace

std::string ConnectFailureText(natsStatus s, bool tls_without_cert) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail && *detail && text.find(detail) == std::string::npos) {
    std::string line = detail;
    // cnats starts it with its source position: "(conn.c:733): ".
    if (const auto end = line.find("): "); line.starts_with("(") && end != std::string::npos)
      line.erase(0, end + 3);
    for (char& c : line)
      if (c == '\n' || c == '\r') c = ' ';
    text += " (" + line + ")";
  }
  if (tls_without_cert && (s == NATS_PROTOCOL_ERROR || s == NATS_CONNECTION_CLOSED))
    text += "; the server ended the TLS connection: does the server require a client certificate "
            "(tls_cert, tls_key)?";
  return text;
}

Error NatsError(natsStatus s, std::string_view context) {
  std::string text = std::string(context) + ": " + natsStatus_GetText(s);
  switch (s) {
    case NATS_TIMEOUT:
      return Error::Timeout(std::move(text));
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_SECURE_CONNECTION_REQUIRED:
    case NATS_SSL_ERROR:
      return Error::Connection(std::move(text));
    case NATS_NOT_PERMITTED:
      return Error::PermissionDenied(std::move(text));
    case NATS_MAX_PAYLOAD:
      return Error::ResourceExhausted(std::move(text));
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return Error::InvalidArgument(std::move(text));
    default:
      return Error::Internal(std::move(text));
  }
}

Message ToMessage(natsMsg* msg, bool stored) {
  Message m;
  m.topic = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg); reply && !stored) m.reply_to = reply;
  m.data = Bytes(std::vector<std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)),
      reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)) + natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &value) != NATS_OK || !value) continue;
      if (std::string_view(keys[i]) == kContentTypeHeader)
        m.content_type = value;
      else if (std::string_view(keys[i]) == kReplyToHeader)
        m.reply_to = stored ? value : m.reply_to;
      else if (std::string_view(keys[i]) == kMetaHeader)
        continue;  // below: every value is one entry
      else if (std::string_view(keys[i]) == kMsgIdHeader &&
               std::string_view(value).starts_with(kFerryMsgIdPrefix))
        continue;  // Ferry's own, for the stream's deduplication only
      else
        m.metadata.Set(keys[i], value);
    }
    std::free(keys);
  }
  const char** encoded = nullptr;
  if (natsMsgHeader_Values(msg, kMetaHeader, &encoded, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const std::string_view entry(encoded[i]);
      const auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      m.metadata.Set(PercentDecode(entry.substr(0, eq)), PercentDecode(entry.substr(eq + 1)));
    }
    std::free(encoded);
  }
  return m;
}

std::size_t EncodedSize(const Message& message, bool stored) {
  std::size_t headers = 0;
  auto line = [&](std::size_t key, std::size_t value) { headers += key + 2 + value + 2; };
  for (const auto& [key, value] : message.metadata) {
    if (PlainHeader(key, value)) line(key.size(), value.size());
    else line(std::strlen(kMetaHeader), EncodedEntry(key, value).size());
  }
  if (message.content_type) line(std::strlen(kContentTypeHeader), message.content_type->size());
  if (stored && !message.reply_to.empty())
    line(std::strlen(kReplyToHeader), message.reply_to.size());
  if (headers > 0) headers += std::strlen("NATS/1.0\r\n\r\n");
  return message.data.size() + headers;
}

Result<MsgPtr> ToNatsMsg(const Message& message, const char* reply, bool stored) {
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, message.topic.c_str(), stored ? nullptr : reply,
                                reinterpret_cast<const char*>(message.data.span().data()),
                                static_cast<int>(message.data.size()));
  if (s != NATS_OK) return NatsError(s, "building a message for " + message.topic);
  MsgPtr msg(raw);
  for (const auto& [key, value] : message.metadata) {
    s = PlainHeader(key, value) ? natsMsgHeader_Set(msg.get(), key.c_str(), value.c_str())
                                : natsMsgHeader_Add(msg.get(), kMetaHeader, EncodedEntry(key, value).c_str());
    if (s != NATS_OK) return NatsError(s, "header '" + key + "'");
  }
  if (message.content_type) {
    if (message.content_type->find_first_of("\r\n") != std::string::npos)
      return Error::InvalidArgument("content type holds a line break");
    s = natsMsgHeader_Set(msg.get(), kContentTypeHeader, message.content_type->c_str());
    if (s != NATS_OK) return NatsError(s, "content type");
  }
  if (stored && reply) {
    s = natsMsgHeader_Set(msg.get(), kReplyToHeader, reply);
    if (s != NATS_OK) return NatsError(s, "reply address");
  }
  return msg;
}

}  // namespace ferry::nats_internal
