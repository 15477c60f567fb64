// Every message decoder over the input (the first byte picks which). A payload a decoder
// accepts must survive the round trip: encoding what it decoded and decoding that again gives
// the same bytes when encoded once more. Anything but a ProtocolError is a finding.
#include "protocol/messages.h"

#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "fuzz_input.h"

using namespace ferry;

namespace {

template <typename M>
void round_trip(std::string_view payload) {
  M first = M::decode(payload);
  Encoder e1;
  first.encode(e1);
  M second = M::decode(e1.data());
  Encoder e2;
  second.encode(e2);
  if (e1.data() != e2.data()) fuzz::property_failed();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t which = in.take_byte();
  std::string_view payload = in.rest();
  try {
    switch (which % 17) {
      case 0:
        round_trip<Hello>(payload);
        break;
      case 1:
        round_trip<Open>(payload);
        break;
      case 2:
        round_trip<Opened>(payload);
        break;
      case 3:
        round_trip<EndOfList>(payload);
        break;
      case 4:
        round_trip<Want>(payload);
        break;
      case 5: {
        FileDataView v = FileDataView::decode(payload);
        Encoder e;
        encode_file_data_head(v.index, e);
        e.raw(v.bytes);
        FileDataView back = FileDataView::decode(e.data());
        if (back.index != v.index || back.bytes != v.bytes) fuzz::property_failed();
        break;
      }
      case 6:
        CompressedView::decode(payload);
        break;
      case 7:
        round_trip<FileEnd>(payload);
        break;
      case 8:
        round_trip<FileFailed>(payload);
        break;
      case 9:
        round_trip<Message>(payload);
        break;
      case 10:
        round_trip<Done>(payload);
        break;
      case 11:
        round_trip<ProbeReport>(payload);
        break;
      case 12:
        round_trip<Fatal>(payload);
        break;
      case 13:
        round_trip<SnapshotInfo>(payload);
        break;
      case 14:
        round_trip<ListingEnd>(payload);
        break;
      case 15:
        round_trip<VerifyEnd>(payload);
        break;
      case 16: {
        Decoder d(payload);
        while (!d.at_end()) {
          VerifyItem item = VerifyItem::decode(d);
          Encoder e;
          item.encode(e);
          Decoder again(e.data());
          VerifyItem back = VerifyItem::decode(again);
          if (back.kind != item.kind || back.data != item.data || !again.at_end()) fuzz::property_failed();
        }
        break;
      }
    }
  } catch (const ProtocolError&) {
  }
  return 0;
}
