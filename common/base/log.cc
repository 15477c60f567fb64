#include "base/log.h"

#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace ferry {
namespace {

size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (c >= 0xf5) len = 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}

// keep_text: leave newlines and backslashes as they are (the log sink's net, which must not
// escape again what printable() already escaped); otherwise escape both.
std::string escape(std::string_view bytes, bool keep_text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if ((c >= 0x20 && c < 0x7f && c != '\\') || (keep_text && (c == '\n' || c == '\\'))) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t len = utf8_sequence_length(bytes, i);
      // C1 controls (U+0080..U+009F) are escaped too: terminals act on them.
      bool c1 = len == 2 && c == 0xc2 && static_cast<unsigned char>(bytes[i + 1]) < 0xa0;
      if (len > 0 && !c1) {
        out.append(bytes.substr(i, len));
        i += len;
        continue;
      }
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    ++i;
  }
  return out;
}

// Every line any part of Ferry logs passes through here on its way to stderr or the log file.
// Text from the peer is escaped where it is received (printable()); this is the net under that:
// whatever a message holds, no escape sequence or carriage return reaches a terminal.
class EscapingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit EscapingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string safe = terminal_safe(payload);
    if (safe.size() == payload.size()) return inner_->log(msg);  // nothing needed escaping
    spdlog::details::log_msg copy(msg);
    copy.payload = spdlog::string_view_t(safe.data(), safe.size());
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace

void init_logging(const std::string& program_name, int verbosity) {
  auto stderr_sink = std::make_shared<EscapingSink>(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  stderr_sink->set_pattern(program_name + ": %v");
  spdlog::level::level_enum level = verbosity < 0 ? spdlog::level::err : spdlog::level::warn;
  if (verbosity == 1) level = spdlog::level::info;
  if (verbosity == 2) level = spdlog::level::debug;
  if (verbosity >= 3) level = spdlog::level::trace;
  // The sink keeps the level -v asked for; the logger's may be lowered for a --log file.
  stderr_sink->set_level(level);
  auto logger = std::make_shared<spdlog::logger>(program_name, stderr_sink);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::string& path) {
  auto sink = std::make_shared<EscapingSink>(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path));
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e [%P] %l: %v");
  sink->set_level(spdlog::level::debug);
  auto& logger = *spdlog::default_logger();
  logger.sinks().push_back(sink);
  // Debug lines must reach the file; the stderr sink still filters them by its own level.
  logger.set_level(std::min(logger.level(), spdlog::level::debug));
}

std::string printable(std::string_view bytes) { return escape(bytes, /*keep_text=*/false); }

std::string terminal_safe(std::string_view text) { return escape(text, /*keep_text=*/true); }

}  // namespace ferry
