#include "engine/data_writer.h"

namespace ferry {

namespace {
// The first-chunks test looks at this much of a file before deciding it does not compress.
constexpr uint64_t kTestBytes = 2 * wire::kDataChunkBytes;
}  // namespace

DataWriter::DataWriter(FrameWriter& out, const CompressionSettings& settings, TransferStats& stats)
    : out_(out), settings_(settings), stats_(stats) {
  if (settings_.mode != CompressionSettings::Mode::kOff) {
    compressor_ = std::make_unique<StreamCompressor>(settings_.level);
  }
}

void DataWriter::begin_file(std::string_view path) {
  file_compressible_ = compressor_ != nullptr && !settings_.skip.skips(path);
  file_tested_ = false;
  file_raw_ = 0;
  file_wire_ = 0;
  last_send_ = std::chrono::steady_clock::now();
}

void DataWriter::send(wire::MsgType type, std::string_view head, std::string_view body) {
  send_from_file(type, head, body, -1, 0);
}

void DataWriter::send_from_file(wire::MsgType type, std::string_view head, std::string_view body, int fd,
                                uint64_t offset) {
  bool automatic = settings_.mode == CompressionSettings::Mode::kAuto;
  if (!file_compressible_ || (automatic && !auto_.compress_next())) {
    out_.send_split_from_file(type, head, body, fd, offset);
  } else {
    buf_.assign(1, static_cast<char>(type));
    compressor_->compress(head, body, &buf_);
    std::string_view stream = std::string_view(buf_).substr(1);
    out_.send_split(wire::MsgType::kCompressed, std::string_view(buf_).substr(0, 1), stream);
    stats_.bytes_compressed_raw += body.size();
    stats_.bytes_compressed_wire += stream.size();
    file_raw_ += head.size() + body.size();
    file_wire_ += stream.size();
    if (!file_tested_ && file_raw_ >= kTestBytes) {
      file_tested_ = true;
      file_compressible_ = worth_compressing(file_raw_, file_wire_);
    }
  }
  if (automatic && file_compressible_) {  // only where the choice mattered
    auto now = std::chrono::steady_clock::now();
    auto_.record(head.size() + body.size(), std::chrono::duration<double>(now - last_send_).count());
    last_send_ = now;
  }
}

}  // namespace ferry
