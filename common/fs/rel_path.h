// Relative-path validation is pure and part of the wire codec: it lives in protocol/rel_path.h,
// so the codec links without the file system layer. This forward keeps older includes
// building; new code includes protocol/rel_path.h.
#pragma once

#include "protocol/rel_path.h"
